using System.Text;
using Confluent.Kafka;
using OrderEvents.Features.Notifications;
using OrderEvents.Features.Orders;
using OrderEvents.Infrastructure.Kafka;
using OrderEvents.Tests.Support;
using Wolverine.Tracking;
using Wolverine.Transports;

namespace OrderEvents.Tests.Notifications;

/// <summary>
/// `dlq-list` and `dlq-redrive`, run as the built app's CLI against the fixture's broker: a poison record is
/// dead-lettered by the listener, listed with its exception, and re-driven with its key and value; a record
/// dead-lettered by an earlier, buggy version is re-driven by exception type and handled by the fixed one.
/// </summary>
[Collection(AppCollection.Name)]
public sealed class DeadLetterCommandTests(AppFixture fixture) : IntegrationContext(fixture)
{
    private KafkaProbe Kafka => new(Fixture.BootstrapServers);

    private static string Json(Guid eventId, long orderId, long userId) =>
        $$"""{"eventId":"{{eventId}}","eventType":"ORDER_CREATED","timestamp":"2025-01-30T10:15:30.123Z","orderId":{{orderId}},"userId":{{userId}},"totalAmount":10}""";

    /// <summary>The command run to its end; it starts no PostgreSQL (its embedded data folder never appears).</summary>
    private async Task<AppProcess> RunCli(params string[] arguments)
    {
        await using var cli = AppProcess.Start([.. arguments, "--brokers", Fixture.BootstrapServers]);
        (await cli.WaitForExitAsync(TimeSpan.FromSeconds(90))).ShouldBe(0, cli.Output);
        cli.EmbeddedServerCreated.ShouldBeFalse($"{arguments[0]} --brokers started an embedded PostgreSQL");
        return cli;
    }

    [Fact]
    public async Task dead_letters_are_listed_with_their_exception_and_redriven_by_offset_or_exception_type()
    {
        var user = await RegisterAndLogin();
        var marker = Guid.NewGuid().ToString("N");
        var poison = $"{{ not json {marker}";
        var poisonKey = "7" + Random.Shared.Next(1000, 9999);

        // 1. The listener dead-letters the poison record (the valid record behind it proves the partition moved on).
        await Host.TrackActivity().IncludeExternalTransports().Timeout(TrackingTimeout).DoNotAssertOnExceptionsDetected()
            .WaitForCondition(new HandledCount<OrderEvent>(1))
            .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(async _ =>
            {
                await Kafka.ProduceAsync(KafkaSettings.OrderEventsTopic, poisonKey, poison, new Partition(1));
                await Kafka.ProduceAsync(KafkaSettings.OrderEventsTopic, poisonKey, Json(Guid.NewGuid(), 1, user.Id), new Partition(1));
            }));
        var deadPoison = Kafka.ReadUntil(KafkaSettings.DeadLetterTopic, r => Encoding.UTF8.GetString(r.Message.Value).Contains(marker)).ShouldHaveSingleItem();

        // 2. A record an earlier version dead-lettered because of a bug that is fixed now (a valid event).
        var fixedEventId = Guid.NewGuid();
        var fixedKey = "8" + Random.Shared.Next(1000, 9999);
        var bugMessage = $"bug {marker} (fixed since)";
        using (var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = Fixture.BootstrapServers }).Build())
        {
            await producer.ProduceAsync(KafkaSettings.DeadLetterTopic, new Message<string, byte[]>
            {
                Key = fixedKey,
                Value = Encoding.UTF8.GetBytes(Json(fixedEventId, long.Parse(fixedKey), user.Id)),
                Headers = new Headers
                {
                    { DeadLetterQueueConstants.ExceptionTypeHeader, Encoding.UTF8.GetBytes("OrderEvents.Tests.SimulatedBug" + marker) },
                    { DeadLetterQueueConstants.ExceptionMessageHeader, Encoding.UTF8.GetBytes(bugMessage) },
                },
            });
        }

        // 3. dlq-list shows both: position, key, exception type and message.
        var list = await RunCli("dlq-list");
        list.Output.ShouldContain($"offset {deadPoison.Offset.Value}  key {poisonKey}");
        var poisonException = Encoding.UTF8.GetString(deadPoison.Message.Headers.GetLastBytes(DeadLetterQueueConstants.ExceptionTypeHeader));
        poisonException.ShouldNotBeNullOrWhiteSpace();
        list.Output.ShouldContain($"  {poisonException}: ");
        list.Output.ShouldContain($"key {fixedKey}");
        list.Output.ShouldContain($"  OrderEvents.Tests.SimulatedBug{marker}: {bugMessage}");

        // 4. Re-drive by exception type: only the fixed-bug record goes back, and the current handler takes it.
        AppProcess redrive = null!;
        await Host.TrackActivity().IncludeExternalTransports().Timeout(TrackingTimeout)
            .WaitForCondition(new HandledCount<OrderEvent>(1))
            .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(async _ => redrive = await RunCli("dlq-redrive", "--exception", "SimulatedBug" + marker)));
        redrive.Output.ShouldContain("1 record(s) re-driven");
        var notification = await FindNotification(fixedEventId);
        notification.ShouldNotBeNull();
        notification.OrderId.ShouldBe(long.Parse(fixedKey));

        // 5. Re-drive one record by offset: the poison goes back to order-events with its key and value (and, still
        //    poison, is dead-lettered again).
        (await RunCli("dlq-redrive", "--offset", deadPoison.Offset.Value.ToString())).Output.ShouldContain("1 record(s) re-driven");
        var inTopic = Kafka.ReadUntil(KafkaSettings.OrderEventsTopic, r => Encoding.UTF8.GetString(r.Message.Value) == poison, count: 2);
        inTopic.Count.ShouldBe(2, "the original and the re-driven record");
        inTopic.ShouldAllBe(r => r.Message.Key == poisonKey);
        var redriven = inTopic.Single(r => r.Message.Headers.Any(h => h.Key == DeadLetters.RedrivenFromHeader));
        Encoding.UTF8.GetString(redriven.Message.Headers.GetLastBytes(DeadLetters.RedrivenFromHeader))
            .ShouldBe($"{KafkaSettings.DeadLetterTopic}/{deadPoison.Partition.Value}/{deadPoison.Offset.Value}");
        Kafka.ReadUntil(KafkaSettings.DeadLetterTopic, r => Encoding.UTF8.GetString(r.Message.Value) == poison, count: 2).Count.ShouldBe(2);
    }

    [Fact]
    public async Task redrive_without_a_selection_refuses_and_sends_nothing()
    {
        await using var cli = AppProcess.Start(["dlq-redrive", "--brokers", Fixture.BootstrapServers]);
        (await cli.WaitForExitAsync(TimeSpan.FromSeconds(90))).ShouldNotBe(0);
        cli.Output.ShouldContain("--offset N, --exception TEXT, or --all");
        cli.EmbeddedServerCreated.ShouldBeFalse("dlq-redrive started an embedded PostgreSQL");
    }
}
