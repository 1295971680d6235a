using Wolverine;
using Wolverine.Kafka.Internals;

namespace OrderEvents.Infrastructure.Kafka;

public static class EmbeddedKafkaBrokerExtensions
{
    /// <summary>
    /// What Wolverine's Kafka transport is configured with until the host starts and the embedded broker's real
    /// address replaces it. Only `describe` (which never starts the host) shows it.
    /// </summary>
    public const string PendingBootstrapServers = "embedded-broker-starts-with-the-host:9092";

    /// <summary>Starts the in-process broker with every topic of the service created.</summary>
    public static EmbeddedKafkaBroker StartWithServiceTopics()
    {
        var broker = new EmbeddedKafkaBroker();
        foreach (var (name, partitions) in KafkaSettings.Topics) broker.CreateTopic(name, partitions);
        return broker;
    }

    /// <summary>
    /// Registers the app's embedded broker, started on first resolution: when the host starts (before Wolverine
    /// connects its Kafka transport), or when a command such as `kafka-broker` asks for it. `help`, `describe` and
    /// the other commands that never start the host never start it. Returns the placeholder bootstrap address to
    /// configure Wolverine with; the real one is set on the transport at host start.
    /// It lives as long as the process: Wolverine's Kafka clients are disposed last of all, and a broker destroyed
    /// before them makes them log errors.
    /// </summary>
    public static string AddEmbeddedKafkaBroker(this IServiceCollection services)
    {
        services.AddSingleton(sp =>
        {
            var broker = StartWithServiceTopics();
            sp.GetRequiredService<ILogger<EmbeddedKafkaBroker>>().LogInformation(
                "Embedded Kafka broker (librdkafka mock cluster) listening at {BootstrapServers}; topics: {Topics}. Set KAFKA_BROKERS to use a real Kafka.",
                broker.BootstrapServers, KafkaSettings.DescribeTopics());
            return broker;
        });
        services.AddHostedService<EmbeddedKafkaBrokerStarter>();
        return PendingBootstrapServers;
    }

    /// <summary>
    /// Starts the broker in the hosts's "starting" phase, which runs before any hosted service's StartAsync (Wolverine
    /// connects its transports in its StartAsync), and points Wolverine's Kafka clients at it.
    /// </summary>
    private sealed class EmbeddedKafkaBrokerStarter(IServiceProvider services) : IHostedLifecycleService
    {
        public Task StartingAsync(CancellationToken cancellationToken)
        {
            var broker = services.GetRequiredService<EmbeddedKafkaBroker>();
            var transport = services.GetRequiredService<WolverineOptions>().Transports.GetOrCreate<KafkaTransport>();
            transport.ProducerConfig.BootstrapServers = broker.BootstrapServers;
            transport.ConsumerConfig.BootstrapServers = broker.BootstrapServers;
            transport.AdminClientConfig.BootstrapServers = broker.BootstrapServers;
            return Task.CompletedTask;
        }

        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
