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
        try
        {
            await using var broker = await StandaloneBroker.StartAsync(["--bootstrap-file", bootstrapFile]);
            broker.BootstrapServers.ShouldMatch(@"^127\.0\.0\.1:\d+");
            (await File.ReadAllTextAsync(bootstrapFile)).Trim().ShouldBe(broker.BootstrapServers);

            var value = $"hello-{Guid.NewGuid():N}";
            using (var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = broker.BootstrapServers }).Build())
            {
                var delivered = await producer.ProduceAsync(KafkaSettings.OrderEventsTopic, new Message<string, string> { Key = "42", Value = value });
                delivered.Status.ShouldBe(PersistenceStatus.Persisted);
            }

            using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
            {
                BootstrapServers = broker.BootstrapServers,
                GroupId = "broker-command-test",
                AutoOffsetReset = AutoOffsetReset.Earliest,
            }).Build();
            consumer.Subscribe(KafkaSettings.OrderEventsTopic);
            var record = consumer.Consume(TimeSpan.FromSeconds(30));
            record.ShouldNotBeNull();
            record.Message.Key.ShouldBe("42");
            record.Message.Value.ShouldBe(value);
            consumer.Close();

            // SIGTERM (as from `docker stop`; Ctrl+C sends SIGINT, handled alike): a clean stop with exit code 0,
            // and nothing else of the app was started (no PostgreSQL).
            (await broker.Process.StopAsync()).ShouldBe(0, broker.Process.Output);
            broker.Process.Output.ShouldContain("Stopping the embedded Kafka broker");
            broker.Process.EmbeddedServerCreated.ShouldBeFalse("kafka-broker started an embedded PostgreSQL");
            broker.Process.Lines.ShouldNotContain(line => line.Contains("Embedded PostgreSQL"));
        }
        finally
        {
            File.Delete(bootstrapFile);
        }
    }
}
