using System.Runtime.InteropServices;
using JasperFx.CommandLine;

namespace OrderEvents.DevHost.Embedded;

public class KafkaBrokerInput : NetCoreInput
{
    [Description("Also write the bootstrap address to this file (for scripts and other app instances)")]
    public string? BootstrapFileFlag { get; set; }
}

/// <summary>
/// `dotnet run --project src/OrderEvents.DevHost -- kafka-broker`: the embedded broker, without the app, until Ctrl+C,
/// so several app instances (KAFKA_BROKERS=...) and outside clients such as kcat can share one broker. Nothing else of
/// the app starts: no PostgreSQL, no listeners.
/// </summary>
[Description("Runs the embedded Kafka-protocol broker (with the service's topics) until Ctrl+C", Name = "kafka-broker")]
public class KafkaBrokerCommand : JasperFxAsyncCommand<KafkaBrokerInput>
{
    public override async Task<bool> Execute(KafkaBrokerInput input)
    {
        using var broker = EmbeddedKafkaBroker.StartWithServiceTopics();

        // Ctrl+C (SIGINT) or SIGTERM (kill, docker stop): return normally, so the broker is destroyed and the exit code
        // is 0. Registered before the announcement: whoever read it may stop the broker at once.
        var stopped = new TaskCompletionSource();
        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stopped.TrySetResult();
        }

        using (PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop))
        using (PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop))
        {
            // Written before the announcement, so whoever waits for the line can read the file at once.
            if (input.BootstrapFileFlag is { } file) await File.WriteAllTextAsync(file, broker.BootstrapServers);
            Console.WriteLine($"Embedded Kafka broker listening at {broker.BootstrapServers}");
            Console.WriteLine($"Topics: {EmbeddedKafkaBroker.DescribeTopics()}");
            Console.WriteLine($"Use it with: KAFKA_BROKERS={broker.BootstrapServers}");
            await stopped.Task;
        }

        Console.WriteLine("Stopping the embedded Kafka broker");
        return true;
    }
}
