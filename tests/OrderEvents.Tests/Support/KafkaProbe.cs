using System.Text;
using Confluent.Kafka;

namespace OrderEvents.Tests.Support;

/// <summary>A plain Confluent.Kafka client, as a non-Wolverine service would use the broker.</summary>
public sealed class KafkaProbe(string bootstrapServers)
{
    public async Task ProduceAsync(string topic, string key, string value, Partition? partition = null)
    {
        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = bootstrapServers }).Build();
        var message = new Message<string, byte[]> { Key = key, Value = Encoding.UTF8.GetBytes(value) };
        var result = partition is { } p
            ? await producer.ProduceAsync(new TopicPartition(topic, p), message)
            : await producer.ProduceAsync(topic, message);
        result.Status.ShouldBe(PersistenceStatus.Persisted);
    }

    /// <summary>Commits the group's offsets at the current end of every partition of the topic.</summary>
    public void MoveGroupToEnd(string groupId, string topic)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrapServers }).Build();
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = groupId,
            EnableAutoCommit = false,
        }).Build();
        var partitions = admin.GetMetadata(topic, TimeSpan.FromSeconds(10)).Topics.Single().Partitions;
        var ends = partitions.Select(p =>
        {
            var partition = new TopicPartition(topic, p.PartitionId);
            return new TopicPartitionOffset(partition, consumer.QueryWatermarkOffsets(partition, TimeSpan.FromSeconds(10)).High);
        }).ToList();
        consumer.Commit(ends);
    }

    /// <summary>Each partition's committed offset for the group (-1001 when none) beside the partition's end (its high watermark).</summary>
    public IReadOnlyList<(int Partition, long Committed, long End)> GroupOffsets(string groupId, string topic, int partitions)
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = groupId,
            EnableAutoCommit = false,
        }).Build();
        var topicPartitions = Enumerable.Range(0, partitions).Select(p => new TopicPartition(topic, p)).ToList();
        return consumer.Committed(topicPartitions, TimeSpan.FromSeconds(10))
            .Select(c => (c.Partition.Value, c.Offset.Value, consumer.QueryWatermarkOffsets(c.TopicPartition, TimeSpan.FromSeconds(10)).High.Value))
            .ToList();
    }

    public static string Describe(IEnumerable<(int Partition, long Committed, long End)> offsets) =>
        string.Join(", ", offsets.Select(o => $"partition {o.Partition}: committed {o.Committed} of {o.End}"));

    /// <summary>Produces all records through one producer, back to back, and waits until the broker has them all.</summary>
    public async Task ProduceManyAsync(string topic, IEnumerable<(string Key, string Value)> records)
    {
        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = bootstrapServers, LingerMs = 5 }).Build();
        var deliveries = records
            .Select(r => producer.ProduceAsync(topic, new Message<string, byte[]> { Key = r.Key, Value = Encoding.UTF8.GetBytes(r.Value) }))
            .ToList();
        foreach (var delivery in await Task.WhenAll(deliveries)) delivery.Status.ShouldBe(PersistenceStatus.Persisted);
    }

    /// <summary>
    /// Reads the topic from its start with a fresh consumer group until <paramref name="count"/> records match,
    /// or the deadline passes (each read blocks on the broker, there is no sleeping).
    /// </summary>
    public List<ConsumeResult<string, byte[]>> ReadUntil(string topic, Func<ConsumeResult<string, byte[]>, bool> match, int count = 1, int timeoutSeconds = 30)
    {
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = "probe-" + Guid.NewGuid().ToString("N"),
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
        }).Build();
        consumer.Subscribe(topic);
        var found = new List<ConsumeResult<string, byte[]>>();
        var deadline = DateTime.UtcNow.AddSeconds(timeoutSeconds);
        while (found.Count < count && DateTime.UtcNow < deadline)
        {
            var record = consumer.Consume(TimeSpan.FromMilliseconds(500));
            if (record is { IsPartitionEOF: false, Message: not null } && match(record)) found.Add(record);
        }

        consumer.Close();
        return found;
    }
}
