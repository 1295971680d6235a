namespace OrderEvents.Infrastructure.Kafka;

/// <summary>Where Kafka is (KAFKA_BROKERS, ...) and the client tuning (section "Kafka"; docs/configuration.md).</summary>
public sealed class KafkaSettings : IValidatableObject
{
    public const string OrderEventsTopic = "order-events";
    public const int OrderEventsPartitions = 3;

    public const string DeadLetterTopic = "order-events.dlq";

    /// <summary>The largest record the app produces, the dead-letter copy of a ~1 MB poison record included.</summary>
    public const int MaxRecordBytes = 2 * 1024 * 1024;

    /// <summary>Every topic the service uses: whoever runs the broker creates them (the app never does).</summary>
    public static readonly IReadOnlyList<(string Name, int Partitions)> Topics =
    [
        (OrderEventsTopic, OrderEventsPartitions),
        (DeadLetterTopic, 1),
    ];

    /// <summary>False: no broker at all; events go through a durable local queue to the same handler.</summary>
    [ConfigurationKeyName("KAFKA_ENABLED")]
    public bool Enabled { get; set; } = true;

    [ConfigurationKeyName("KAFKA_BROKERS")]
    public string? Brokers { get; set; }

    [ConfigurationKeyName("KAFKA_CLIENT_ID"), Required]
    public string ClientId { get; set; } = "order-events-service";

    [ConfigurationKeyName("KAFKA_GROUP_ID"), Required]
    public string GroupId { get; set; } = "notification-consumer-group";

    [ConfigurationKeyName("Kafka:FetchWaitMaxMs"), Range(1, 10_000)]
    public int FetchWaitMaxMs { get; set; } = 500;

    [ConfigurationKeyName("Kafka:SessionTimeoutMs"), Range(1_000, 300_000)]
    public int SessionTimeoutMs { get; set; } = 45_000;

    [ConfigurationKeyName("Kafka:HeartbeatIntervalMs"), Range(100, 100_000)]
    public int HeartbeatIntervalMs { get; set; } = 3_000;

    [ConfigurationKeyName("Kafka:LingerMs"), Range(0, 1_000)]
    public int LingerMs { get; set; } = 5;

    /// <summary>The settings as configured, for code that runs before the host (and its validation) exists.</summary>
    public static KafkaSettings From(IConfiguration configuration) => configuration.Get<KafkaSettings>() ?? new KafkaSettings();

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (HeartbeatIntervalMs * 3 > SessionTimeoutMs)
            yield return new ValidationResult(
                $"Kafka:HeartbeatIntervalMs ({HeartbeatIntervalMs}) must be at most a third of Kafka:SessionTimeoutMs ({SessionTimeoutMs}).",
                [nameof(HeartbeatIntervalMs)]);
    }
}
