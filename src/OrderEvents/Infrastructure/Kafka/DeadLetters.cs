using System.Text;
using Confluent.Kafka;
using Wolverine.Transports;

namespace OrderEvents.Infrastructure.Kafka;

/// <summary>A record of order-events.dlq, with the failure Wolverine wrote into its headers when it dead-lettered it.</summary>
public sealed record DeadLetter(
    int Partition, long Offset, string? Key, byte[] Value, DateTime Timestamp,
    string? ExceptionType, string? ExceptionMessage, string? OriginalPartition, string? OriginalOffset)
{
    public string ValueText => Encoding.UTF8.GetString(Value);
}

/// <summary>
/// Reads order-events.dlq and re-drives its records into order-events with their key (the order id, so its partition)
/// and value. Plain Confluent.Kafka clients; no offsets are committed, so listing changes nothing.
/// </summary>
public static class DeadLetters
{
    /// <summary>Header on a re-driven record: where it came from (topic/partition/offset), for tracing it back.</summary>
    public const string RedrivenFromHeader = "orderevents-redriven-from";

    public static IReadOnlyList<DeadLetter> ReadAll(string bootstrapServers, TimeSpan timeout)
    {
        using var consumer = new ConsumerBuilder<string?, byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = "orderevents-dlq-tools", // never joined nor committed: partitions are assigned by hand
            EnableAutoCommit = false,
            EnablePartitionEof = true,
        }).Build();
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrapServers }).Build();
        var partitions = admin.GetMetadata(KafkaSettings.DeadLetterTopic, timeout).Topics.Single().Partitions
            .Select(p => new TopicPartitionOffset(KafkaSettings.DeadLetterTopic, p.PartitionId, Offset.Beginning)).ToList();

        // Each partition from its first record to its end as of now (where it reports EOF).
        var letters = new List<DeadLetter>();
        var reading = partitions.Select(p => p.Partition.Value).ToHashSet();
        consumer.Assign(partitions);
        var deadline = DateTime.UtcNow + timeout;
        while (reading.Count > 0)
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"Reading {KafkaSettings.DeadLetterTopic} took longer than {timeout.TotalSeconds:0} s");
            if (consumer.Consume(TimeSpan.FromMilliseconds(500)) is not { } record) continue;
            if (record.IsPartitionEOF) reading.Remove(record.Partition.Value);
            else letters.Add(ToDeadLetter(record));
        }

        consumer.Close();
        return letters;
    }

    /// <summary>Produces each letter's key and value to order-events (in DLQ order) and waits until the broker has them.</summary>
    public static async Task RedriveAsync(string bootstrapServers, IEnumerable<DeadLetter> letters)
    {
        using var producer = new ProducerBuilder<string?, byte[]>(new ProducerConfig
        {
            BootstrapServers = bootstrapServers,
            Acks = Acks.All,
            EnableIdempotence = true,
        }).Build();
        foreach (var letter in letters)
        {
            var headers = new Headers
            {
                { RedrivenFromHeader, Encoding.UTF8.GetBytes($"{KafkaSettings.DeadLetterTopic}/{letter.Partition}/{letter.Offset}") },
            };
            var delivered = await producer.ProduceAsync(KafkaSettings.OrderEventsTopic,
                new Message<string?, byte[]> { Key = letter.Key, Value = letter.Value, Headers = headers });
            if (delivered.Status != PersistenceStatus.Persisted)
                throw new InvalidOperationException($"Re-driving {letter.Partition}/{letter.Offset} was not confirmed by the broker ({delivered.Status})");
        }
    }

    private static DeadLetter ToDeadLetter(ConsumeResult<string?, byte[]> record)
    {
        var headers = record.Message.Headers ?? [];
        string? Header(string name) => headers.TryGetLastBytes(name, out var bytes) ? Encoding.UTF8.GetString(bytes) : null;
        return new DeadLetter(
            record.Partition.Value, record.Offset.Value, record.Message.Key, record.Message.Value ?? [], record.Message.Timestamp.UtcDateTime,
            Header(DeadLetterQueueConstants.ExceptionTypeHeader), Header(DeadLetterQueueConstants.ExceptionMessageHeader),
            Header(DeadLetterQueueConstants.OriginalPartitionHeader), Header(DeadLetterQueueConstants.OriginalOffsetHeader));
    }
}
