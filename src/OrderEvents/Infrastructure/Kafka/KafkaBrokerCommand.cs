using JasperFx.CommandLine;

namespace OrderEvents.Infrastructure.Kafka;

public class KafkaBrokerInput
{
    [Description("Also write the bootstrap address to this file (for scripts and other app instances)")]
    public string? BootstrapFileFlag { get; set; }
}

/// <summary>
/// `dotnet run --project src/OrderEvents -- kafka-broker`: one embedded broker that several app instances
/// (KAFKA_BROKERS=...) and outside clients such as kcat can share, until Ctrl+C.
/// </summary>
[Description("Runs the embedded Kafka-protocol broker (with the service's topics) until Ctrl+C", Name = "kafka-broker")]
public class KafkaBrokerCommand : JasperFxAsyncCommand<KafkaBrokerInput>
{
    public override async Task<bool> Execute(KafkaBrokerInput input)
    {
        using var broker = EmbeddedKafkaBrokerExtensions.StartWithServiceTopics();
        // Written before the announcement, so whoever waits for the line can read the file at once.
        if (input.BootstrapFileFlag is { } file) await File.WriteAllTextAsync(file, broker.BootstrapServers);
        Console.WriteLine($"Embedded Kafka broker listening at {broker.BootstrapServers}");
        Console.WriteLine($"Topics: {string.Join(", ", KafkaSettings.Topics.Select(t => $"{t.Name} ({t.Partitions} partitions)"))}");
        Console.WriteLine($"Use it with: KAFKA_BROKERS={broker.BootstrapServers}");

        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
        AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.Cancel();
        try
        {
            await Task.Delay(Timeout.Infinite, stop.Token);
        }
        catch (OperationCanceledException)
        {
            Console.WriteLine("Stopping the embedded Kafka broker");
        }

        return true;
    }
}
