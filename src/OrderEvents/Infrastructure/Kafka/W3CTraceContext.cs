using System.Diagnostics;
using System.Text;
using Confluent.Kafka;
using Wolverine.Kafka.Internals;

namespace OrderEvents.Infrastructure.Kafka;

/// <summary>
/// Trace context on Kafka records. Wolverine's mapper carries the publishing span's W3C id in its own "parent-id"
/// header only; tracing tools and other consumers look for the standard W3C "traceparent" header. Records get both,
/// and a record from a non-Wolverine producer that has only "traceparent" continues that trace here.
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
