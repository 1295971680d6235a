using System.ComponentModel.DataAnnotations;
using Confluent.Kafka;

namespace OrderEvents.Infrastructure.Kafka;

/// <summary>
/// Kafka client tuning (section "Kafka", e.g. Kafka__FetchWaitMaxMs). appsettings.json holds production-sane values;
/// appsettings.Development.json the low-latency ones for a local broker. Checked at start-up (ValidateOnStart).
/// </summary>
public sealed class KafkaClientOptions
{
    public const string Section = "Kafka";

    /// <summary>fetch.wait.max.ms: how long the broker may hold a fetch waiting for data.</summary>
    [Range(1, 10_000)]
    public int FetchWaitMaxMs { get; set; } = 500;

    /// <summary>session.timeout.ms: a consumer silent this long leaves the group (its partitions move).</summary>
    [Range(1_000, 300_000)]
    public int SessionTimeoutMs { get; set; } = 45_000;

    /// <summary>heartbeat.interval.ms: must be well below the session timeout (at most a third of it).</summary>
    [Range(100, 100_000)]
    public int HeartbeatIntervalMs { get; set; } = 3_000;

    /// <summary>linger.ms: how long the producer waits to fill a batch.</summary>
    [Range(0, 1_000)]
    public int LingerMs { get; set; } = 5;

    public static IEnumerable<string> Problems(KafkaClientOptions options)
    {
        if (options.HeartbeatIntervalMs * 3 > options.SessionTimeoutMs)
            yield return $"Kafka:HeartbeatIntervalMs ({options.HeartbeatIntervalMs}) must be at most a third of Kafka:SessionTimeoutMs ({options.SessionTimeoutMs}).";
    }

    public void ApplyTo(ConsumerConfig consumer)
    {
        consumer.FetchWaitMaxMs = FetchWaitMaxMs;
        consumer.SessionTimeoutMs = SessionTimeoutMs;
        consumer.HeartbeatIntervalMs = HeartbeatIntervalMs;
    }

    public void ApplyTo(ProducerConfig producer) => producer.LingerMs = LingerMs;

    public static KafkaClientOptions From(IConfiguration configuration) =>
        configuration.GetSection(Section).Get<KafkaClientOptions>() ?? new KafkaClientOptions();
}

public static class KafkaClientOptionsSetup
{
    /// <summary>Binds and validates the section; a bad value stops start-up with the setting's name and range.</summary>
    public static IServiceCollection AddKafkaClientOptions(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<KafkaClientOptions>()
            .Bind(configuration.GetSection(KafkaClientOptions.Section))
            .ValidateDataAnnotations()
            .Validate(options => !KafkaClientOptions.Problems(options).Any(),
                "Kafka:HeartbeatIntervalMs must be at most a third of Kafka:SessionTimeoutMs.")
            .ValidateOnStart();
        return services;
    }
}
