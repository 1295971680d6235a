using System.Security.Cryptography;
using System.Text;
using Confluent.Kafka;
using Wolverine;
using Wolverine.Kafka;
using Wolverine.Kafka.Internals;

namespace OrderEvents.Infrastructure.Kafka;

/// <summary>
/// Wolverine's Kafka mapping, plus an envelope id for records that carry none. Records from non-Wolverine
/// producers have no Wolverine "id" header, and every one of them would otherwise be handled, logged, traced and
/// dead-lettered as envelope 00000000-…. The id is derived from the record's key and value, so a byte-identical
/// redelivery keeps the same id (the durable inbox drops it).
/// </summary>
public sealed class RecordIdentityMapper : IKafkaEnvelopeMapper
{
    private readonly KafkaEnvelopeMapper _wolverine;

    public RecordIdentityMapper(KafkaTopic endpoint, Type defaultMessageType)
    {
        _wolverine = new KafkaEnvelopeMapper(endpoint).PropagateW3CTraceContext();
        _wolverine.ReceivesMessage(defaultMessageType);
    }

    public void MapEnvelopeToOutgoing(Envelope envelope, Message<string, byte[]> outgoing) =>
        _wolverine.MapEnvelopeToOutgoing(envelope, outgoing);

    public void MapIncomingToEnvelope(Envelope envelope, Message<string, byte[]> incoming)
    {
        _wolverine.MapIncomingToEnvelope(envelope, incoming);
        if (envelope.Id == Guid.Empty) envelope.Id = IdOf(incoming, []);
        // A record re-driven from the DLQ keeps its key, value and headers, so its id too: the durable inbox would take
        // it for the delivery it already saw and drop it. Each re-drive is a new delivery (with the same id whenever
        // that re-driven record itself is delivered again).
        if (incoming.Headers?.TryGetLastBytes(DeadLetters.RedrivenFromHeader, out var redrivenFrom) == true)
            envelope.Id = IdOf(incoming, [.. envelope.Id.ToByteArray(), .. redrivenFrom]);
    }

    private static Guid IdOf(Message<string, byte[]> record, byte[] salt)
    {
        var key = Encoding.UTF8.GetBytes(record.Key ?? "");
        var hash = SHA256.HashData([.. key, 0, .. record.Value ?? [], .. salt]);
        return new Guid(hash.AsSpan(0, 16));
    }
}
