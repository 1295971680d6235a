using System.Diagnostics;
using System.Text;
using Confluent.Kafka;
using Wolverine.Kafka.Internals;

namespace OrderEvents.Infrastructure.Kafka;

/// <summary>
/// Wolverine carries the trace id in its own "parent-id" header only; other consumers look for W3C "traceparent".
/// Records get both, and a record from another producer that has only "traceparent" continues that trace here.
/// </summary>
public static class W3CTraceContext
{
    public const string TraceParentHeader = "traceparent";
    public const string WolverineParentHeader = "parent-id";

    public static KafkaEnvelopeMapper PropagateW3CTraceContext(this KafkaEnvelopeMapper mapper)
    {
        mapper.MapProperty(envelope => envelope.ParentId!,
            (envelope, incoming) =>
                envelope.ParentId = Header(incoming, WolverineParentHeader) ?? ValidTraceParent(Header(incoming, TraceParentHeader)),
            (envelope, outgoing) =>
            {
                if (string.IsNullOrEmpty(envelope.ParentId)) return;
                outgoing.Headers.Add(WolverineParentHeader, Encoding.UTF8.GetBytes(envelope.ParentId));
                if (ValidTraceParent(envelope.ParentId) is { } traceParent)
                    outgoing.Headers.Add(TraceParentHeader, Encoding.UTF8.GetBytes(traceParent));
            });
        return mapper;
    }

    private static string? Header(Message<string, byte[]> record, string key) =>
        record.Headers is { } headers && headers.TryGetLastBytes(key, out var bytes) ? Encoding.UTF8.GetString(bytes) : null;

    // Only a well-formed W3C id is passed on: a hierarchical (non-W3C) activity id or garbage starts a new trace.
    private static string? ValidTraceParent(string? value) =>
        value is not null && ActivityContext.TryParse(value, null, out _) ? value : null;
}
