namespace OrderEvents.Infrastructure.Kafka;

/// <summary>The Kafka settings, read from the environment-style keys the service documents.</summary>
public sealed record KafkaSettings(bool Enabled, string? Brokers, string ClientId, string GroupId)
{
    public const string OrderEventsTopic = "order-events";
    public const int OrderEventsPartitions = 3;

    /// <summary>Poison records (e.g. malformed JSON) go here, with the exception in the record headers.</summary>
    public const string DeadLetterTopic = "order-events.dlq";

    /// <summary>The largest record the app produces, the dead-letter copy of a ~1 MB poison record included (2 MiB).</summary>
    public const int MaxRecordBytes = 2 * 1024 * 1024;

    /// <summary>Every topic the service uses: the embedded broker must create them (it cannot auto-provision).</summary>
    public static readonly IReadOnlyList<(string Name, int Partitions)> Topics =
    [
        (OrderEventsTopic, OrderEventsPartitions),
        (DeadLetterTopic, 1),
    ];

    /// <summary>"order-events (3 partitions), order-events.dlq (1 partitions)", for logs and the CLI.</summary>
    public static string DescribeTopics() => string.Join(", ", Topics.Select(t => $"{t.Name} ({t.Partitions} partitions)"));

    public bool UseEmbeddedBroker => Enabled && string.IsNullOrWhiteSpace(Brokers);

    public static KafkaSettings From(IConfiguration configuration) => new(
        Enabled: configuration.GetValue("KAFKA_ENABLED", true),
        Brokers: configuration["KAFKA_BROKERS"],
        ClientId: configuration["KAFKA_CLIENT_ID"] ?? "order-events-service",
        GroupId: configuration["KAFKA_GROUP_ID"] ?? "notification-consumer-group");
}
