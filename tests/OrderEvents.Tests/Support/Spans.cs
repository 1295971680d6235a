using System.Diagnostics;
using OrderEvents.Features.Notifications;
using OrderEvents.Infrastructure.Telemetry;

namespace OrderEvents.Tests.Support;

/// <summary>The spans the tracing tests look for, and assertions that list every span when one is missing.</summary>
internal static class Spans
{
    /// <summary>A notification batch: one span for many records, each linked.</summary>
    public static bool IsNotificationBatch(Activity span) =>
        span.Source.Name == TelemetrySetup.WolverineSource && Equals(span.GetTagItem("message.handler"), typeof(NotifyUsersHandler).FullName);

    /// <summary>A record's receive span, in the trace of whoever published it.</summary>
    public static bool IsRecordReceive(Activity span) =>
        span.Source.Name == TelemetrySetup.WolverineSource && span.Kind == ActivityKind.Consumer && !IsNotificationBatch(span);

    public static Activity SingleSpan(this IEnumerable<Activity> spans, Func<Activity, bool> match, string what)
    {
        var found = spans.Where(match).ToList();
        found.Count.ShouldBe(1, $"expected {what}; spans: {Describe(spans)}");
        return found[0];
    }

    public static string Describe(IEnumerable<Activity> spans) => string.Join("\n", spans.Select(s =>
        $"{s.Source.Name}/{s.Kind}/{s.DisplayName} trace {s.TraceId} parent {s.ParentSpanId} span {s.SpanId} [{string.Join(", ", s.TagObjects.Select(t => $"{t.Key}={t.Value}"))}]"));
}
