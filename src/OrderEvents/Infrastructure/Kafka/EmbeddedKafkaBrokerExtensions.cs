namespace OrderEvents.Infrastructure.Kafka;

public static class EmbeddedKafkaBrokerExtensions
{
    /// <summary>Starts the in-process broker with every topic of the service created.</summary>
    public static EmbeddedKafkaBroker StartWithServiceTopics()
    {
        var broker = new EmbeddedKafkaBroker();
        foreach (var (name, partitions) in KafkaSettings.Topics) broker.CreateTopic(name, partitions);
        return broker;
    }

    /// <summary>
    /// Registers the app's embedded broker and logs where clients can reach it. It lives as long as the process:
    /// Wolverine's Kafka clients are disposed last of all, and a broker destroyed before them makes them log errors.
    /// </summary>
    public static IServiceCollection AddEmbeddedKafkaBroker(this IServiceCollection services, EmbeddedKafkaBroker broker)
    {
        services.AddSingleton(broker);
        services.AddHostedService<EmbeddedKafkaBrokerAnnouncer>();
        return services;
    }

    private sealed class EmbeddedKafkaBrokerAnnouncer(EmbeddedKafkaBroker broker, ILogger<EmbeddedKafkaBroker> logger) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            logger.LogInformation(
                "Embedded Kafka broker (librdkafka mock cluster) listening at {BootstrapServers}; topics: {Topics}. Set KAFKA_BROKERS to use a real Kafka.",
                broker.BootstrapServers, KafkaSettings.DescribeTopics());
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
