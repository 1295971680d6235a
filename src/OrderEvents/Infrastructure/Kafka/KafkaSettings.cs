using System.ComponentModel.DataAnnotations;
using Confluent.Kafka;

namespace OrderEvents.Infrastructure.Kafka;

/// <summary>
/// Where Kafka is and how the service's clients talk to it. The connection keys are the documented environment names
/// (KAFKA_BROKERS, ...); the client tuning lives in the "Kafka" section (Kafka__FetchWaitMaxMs, ...), with production
/// values in appsettings.json and low-latency ones for a local broker in appsettings.Development.json.
/// </summary>
public sealed class KafkaSettings : IValidatableObject
{
    public const string OrderEventsTopic = "order-events";
    public const int OrderEventsPartitions = 3;

    /// <summary>Poison records (e.g. malformed JSON) go here, with the exception in the record headers.</summary>
    public const string DeadLetterTopic = "order-events.dlq";

    /// <summary>The largest record the app produces, the dead-letter copy of a ~1 MB poison record included (2 MiB).</summary>
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

    /// <summary>Bootstrap servers, required unless Kafka is disabled.</summary>
    [ConfigurationKeyName("KAFKA_BROKERS")]
    public string? Brokers { get; set; }

    [ConfigurationKeyName("KAFKA_CLIENT_ID"), Required]
    public string ClientId { get; set; } = "order-events-service";

    [ConfigurationKeyName("KAFKA_GROUP_ID"), Required]
    public string GroupId { get; set; } = "notification-consumer-group";

    /// <summary>fetch.wait.max.ms: how long the broker may hold a fetch waiting for data.</summary>
    [ConfigurationKeyName("Kafka:FetchWaitMaxMs"), Range(1, 10_000)]
    public int FetchWaitMaxMs { get; set; } = 500;

    /// <summary>session.timeout.ms: a consumer silent this long leaves the group (its partitions move).</summary>
    [ConfigurationKeyName("Kafka:SessionTimeoutMs"), Range(1_000, 300_000)]
    public int SessionTimeoutMs { get; set; } = 45_000;

    /// <summary>heartbeat.interval.ms: must be well below the session timeout (at most a third of it).</summary>
    [ConfigurationKeyName("Kafka:HeartbeatIntervalMs"), Range(100, 100_000)]
    public int HeartbeatIntervalMs { get; set; } = 3_000;

    /// <summary>linger.ms: how long the producer waits to fill a batch.</summary>
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

    public void ApplyTo(ConsumerConfig consumer)
    {
        consumer.GroupId = GroupId;
        consumer.FetchWaitMaxMs = FetchWaitMaxMs;
        consumer.SessionTimeoutMs = SessionTimeoutMs;
        consumer.HeartbeatIntervalMs = HeartbeatIntervalMs;
    }

    public void ApplyTo(ProducerConfig producer) => producer.LingerMs = LingerMs;
}
