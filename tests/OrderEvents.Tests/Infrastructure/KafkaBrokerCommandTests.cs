using System.Diagnostics;
using Confluent.Kafka;
using OrderEvents.Infrastructure.Kafka;
using OrderEvents.Tests.Support;

namespace OrderEvents.Tests.Infrastructure;

/// <summary>`OrderEvents kafka-broker` runs a broker that plain Kafka clients in other processes can use.</summary>
public sealed class KafkaBrokerCommandTests
{
    [Fact]
    public async Task the_broker_command_prints_a_bootstrap_that_a_plain_client_can_produce_to_and_consume_from()
    {
        var bootstrapFile = Path.Combine(Path.GetTempPath(), $"orderevents-bootstrap-{Guid.NewGuid():N}.txt");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { AppProcess.AppAssembly, "kafka-broker", "--bootstrap-file", bootstrapFile })
            start.ArgumentList.Add(argument);
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Development";
        // The command runs the embedded broker, which exists only when no real Kafka is configured.
        start.Environment.Remove("KAFKA_BROKERS");
        start.Environment.Remove("KAFKA_ENABLED");

        using var broker = Process.Start(start)!;
        try
        {
            // The command announces itself on stdout; read lines until it does (bounded by the process itself).
            string? line;
            var bootstrap = "";
            while ((line = await broker.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60))) != null)
            {
                if (line.StartsWith("Embedded Kafka broker listening at ", StringComparison.Ordinal))
                {
                    bootstrap = line["Embedded Kafka broker listening at ".Length..].Trim();
                    break;
                }
            }

            bootstrap.ShouldNotBeEmpty("the command never announced its bootstrap address");
            bootstrap.ShouldMatch(@"^127\.0\.0\.1:\d+");
            (await File.ReadAllTextAsync(bootstrapFile)).Trim().ShouldBe(bootstrap);

            var value = $"hello-{Guid.NewGuid():N}";
            using (var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = bootstrap }).Build())
            {
                var delivered = await producer.ProduceAsync(KafkaSettings.OrderEventsTopic, new Message<string, string> { Key = "42", Value = value });
                delivered.Status.ShouldBe(PersistenceStatus.Persisted);
            }

            using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
            {
                BootstrapServers = bootstrap,
                GroupId = "broker-command-test",
                AutoOffsetReset = AutoOffsetReset.Earliest,
            }).Build();
            consumer.Subscribe(KafkaSettings.OrderEventsTopic);
            var record = consumer.Consume(TimeSpan.FromSeconds(30));
            record.ShouldNotBeNull();
            record.Message.Key.ShouldBe("42");
            record.Message.Value.ShouldBe(value);
            consumer.Close();

            // SIGTERM (as from Ctrl+C in a terminal, or `docker stop`): a clean stop with exit code 0.
            using (var terminate = Process.Start("kill", ["-TERM", broker.Id.ToString()])) await terminate.WaitForExitAsync();
            await broker.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            broker.ExitCode.ShouldBe(0);
            (await broker.StandardOutput.ReadToEndAsync()).ShouldContain("Stopping the embedded Kafka broker");
        }
        finally
        {
            if (!broker.HasExited) broker.Kill(entireProcessTree: true);
            await broker.WaitForExitAsync();
            File.Delete(bootstrapFile);
        }
    }
}
