using Confluent.Kafka;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using OrderEvents.Infrastructure.Kafka;
using Wolverine.Kafka.Internals;
using Wolverine.Runtime;

namespace OrderEvents.Infrastructure.Health;

/// <summary>
/// Kafka is reachable: a metadata request for the order-events topic answers within a short timeout. Uses the
/// admin-client settings Wolverine's Kafka transport was configured with (brokers, client id, security).
/// </summary>
public sealed class KafkaHealthCheck(IWolverineRuntime runtime) : IHealthCheck, IDisposable
{
    public static readonly TimeSpan MetadataTimeout = TimeSpan.FromSeconds(2);

    private readonly Lazy<IAdminClient> _admin = new(() =>
        new AdminClientBuilder(runtime.Options.Transports.GetOrCreate<KafkaTransport>().AdminClientConfig).Build());

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        // GetMetadata blocks its thread for up to the timeout.
        Task.Run(() =>
        {
            try
            {
                var metadata = _admin.Value.GetMetadata(KafkaSettings.OrderEventsTopic, MetadataTimeout);
                var topic = metadata.Topics.SingleOrDefault(t => t.Topic == KafkaSettings.OrderEventsTopic);
                var data = new Dictionary<string, object> { ["brokers"] = metadata.Brokers.Count };
                if (topic is null || topic.Error.IsError)
                    return HealthCheckResult.Unhealthy($"Topic {KafkaSettings.OrderEventsTopic} is not available: {topic?.Error.Reason ?? "missing"}", data: data);
                data["partitions"] = topic.Partitions.Count;
                return HealthCheckResult.Healthy(
                    $"{KafkaSettings.OrderEventsTopic}: {topic.Partitions.Count} partitions on {metadata.Brokers.Count} broker(s)", data);
            }
            catch (KafkaException e)
            {
                return HealthCheckResult.Unhealthy($"No metadata from Kafka within {MetadataTimeout.TotalSeconds:0.#} s ({e.Error.Code})");
            }
        }, cancellationToken);

    public void Dispose()
    {
        if (_admin.IsValueCreated) _admin.Value.Dispose();
    }
}
