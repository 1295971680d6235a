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
/// redelivery keeps the same id.
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
        if (envelope.Id == Guid.Empty) envelope.Id = IdOf(incoming);
    }

    private static Guid IdOf(Message<string, byte[]> record)
    {
        var key = Encoding.UTF8.GetBytes(record.Key ?? "");
        var hash = SHA256.HashData([.. key, 0, .. record.Value ?? []]);
        return new Guid(hash.AsSpan(0, 16));
    }
}
