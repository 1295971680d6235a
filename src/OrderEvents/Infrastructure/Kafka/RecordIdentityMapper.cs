using System.Security.Cryptography;
using System.Text;
using Confluent.Kafka;
using Wolverine.Kafka;
using Wolverine.Kafka.Internals;

namespace OrderEvents.Infrastructure.Kafka;

/// <summary>
/// Wolverine's Kafka mapping, plus an envelope id for records from other producers, which carry none (all of them
/// would be envelope 00000000-…). Derived from key and value, so a byte-identical redelivery is dropped by the inbox.
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
        // A record re-driven from the DLQ keeps its key, value and headers, so its id too, and the inbox would drop it:
        // each re-drive is a new delivery (whose own redeliveries keep its id).
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
