using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OrderEvents.Features.Notifications;
using OrderEvents.Features.Orders;
using OrderEvents.Infrastructure.Kafka;
using OrderEvents.Tests.Support;
using Wolverine.Tracking;
using Wolverine.Transports;

namespace OrderEvents.Tests.Notifications;

/// <summary>
/// One order's records reach the listener out of version order, for real (reversed on the topic, a dead letter
/// re-driven late, a replay of an event the broker lost): the order's notifications still take their user's stream
/// positions in version order, one per logged event, because the listener stores the missing predecessors from the
/// order log first. The orders are written to the log directly (as the service does, with its event ids), and their
/// records are produced by hand: nothing publishes them in order behind the test's back.
/// </summary>
[Collection(AppCollection.Name)]
public sealed class EventOrderTests(AppFixture fixture) : IntegrationContext(fixture)
{
    private KafkaProbe Kafka => new(Fixture.BootstrapServers);

    [Fact]
    public async Task records_of_logged_orders_published_in_reverse_are_notified_in_version_order()
    {
        var user = await RegisterAndLogin();
        var orders = new List<IReadOnlyList<OrderEvent>>();
        for (var i = 0; i < 3; i++) orders.Add(await OrderLog.AppendAsync(Store, user.Id, i == 1 ? OrderEventTypes.Cancelled : OrderEventTypes.Paid));

        // ORDER_PAID / ORDER_CANCELLED first, handled on their own; ORDER_CREATED after them.
        await ProduceAndWait(orders.Select(records => records[1]).ToList());
        await ProduceAndWait(orders.Select(records => records[0]).ToList());

        foreach (var records in orders) await OrderNotifications.ShouldFollowTheLog(Fixture.ConnectionString, records[0].OrderId, 2);
        (await NotificationsOf(user)).Count.ShouldBe(6, "one notification per event, nothing doubled");
    }

    [Fact]
    public async Task an_event_redriven_from_the_dead_letter_topic_after_its_orders_next_event_was_notified_stays_in_version_order()
    {
        var user = await RegisterAndLogin();
        var records = await OrderLog.AppendAsync(Store, user.Id, OrderEventTypes.Paid);
        var marker = "OrderEvents.Tests.SimulatedBug" + Guid.NewGuid().ToString("N");

        // ORDER_CREATED was dead-lettered by an earlier, buggy consumer; the partition moved on to ORDER_PAID.
        using (var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = Fixture.BootstrapServers }).Build())
            await producer.ProduceAsync(KafkaSettings.DeadLetterTopic, new Message<string, byte[]>
            {
                Key = records[0].OrderId.ToString(),
                Value = Encoding.UTF8.GetBytes(OrderLog.Json(records[0])),
                Headers = new Headers { { DeadLetterQueueConstants.ExceptionTypeHeader, Encoding.UTF8.GetBytes(marker) } },
            });
        await ProduceAndWait([records[1]]);

        // The bug is fixed: the operator re-drives the dead letter.
        await Host.TrackActivity().IncludeExternalTransports().Timeout(TrackingTimeout)
            .WaitForCondition(new HandledCount<OrderEvent>(1))
            .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(async _ =>
            {
                await using var cli = AppProcess.Start(["dlq-redrive", "--exception", marker, "--brokers", Fixture.BootstrapServers]);
                (await cli.WaitForExitAsync(TimeSpan.FromSeconds(90))).ShouldBe(0, cli.Output);
                cli.Output.ShouldContain("1 record(s) re-driven");
            }));

        await OrderNotifications.ShouldFollowTheLog(Fixture.ConnectionString, records[0].OrderId, 2);
    }

    [Fact]
    public async Task a_replay_of_an_event_the_broker_lost_after_its_orders_next_event_was_notified_stays_in_version_order()
    {
        var user = await RegisterAndLogin();
        var records = await OrderLog.AppendAsync(Store, user.Id, OrderEventTypes.Cancelled);

        // The broker lost ORDER_CREATED; ORDER_CANCELLED got through. Then the operator replays the order from the log.
        await ProduceAndWait([records[1]]);
        await Host.TrackActivity().IncludeExternalTransports().Timeout(TrackingTimeout)
            .WaitForCondition(new HandledCount<OrderEvent>(2))
            .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(async _ =>
                (await Host.Services.GetRequiredService<OrderEventReplay>()
                    .ReplayAsync(new ReplayFilter(OrderId: records[0].OrderId), null, CancellationToken.None)).ShouldBe(2)));

        await OrderNotifications.ShouldFollowTheLog(Fixture.ConnectionString, records[0].OrderId, 2);
    }

    [Fact]
    public async Task a_versioned_record_the_order_log_does_not_know_is_stored_as_is_with_a_warning_and_the_partition_moves_on()
    {
        var user = await RegisterAndLogin();
        var orderId = 9_000_000 + Random.Shared.Next(1_000_000);
        var outsider = new OrderEvent(Guid.NewGuid(), OrderEventTypes.Paid, DateTimeOffset.UtcNow, orderId, user.Id, 10m) { Version = 3 };
        Fixture.Logs.Clear();

        await ProduceAndWait([outsider]);

        var stored = (await OrderNotifications.Notified(Fixture.ConnectionString, orderId)).ShouldHaveSingleItem();
        stored.Id.ShouldBe(outsider.EventId);
        stored.Version.ShouldBe(3);
        Fixture.Logs.Entries.ShouldContain(e => e.Level == LogLevel.Warning && e.Message.Contains(outsider.EventId.ToString())
                                                && e.Message.Contains("is not in the order log"));
        await ListenerPassed([orderId.ToString()]);
    }

    [Fact]
    public async Task a_record_without_a_version_is_stored_as_before_without_reading_the_log()
    {
        var user = await RegisterAndLogin();
        var records = await OrderLog.AppendAsync(Store, user.Id, OrderEventTypes.Paid);
        var unversioned = records[1] with { Version = null };
        OrderLog.Json(unversioned).ShouldNotContain("version");

        await ProduceAndWait([unversioned]);

        // No version, no ordering check: stored on its own, as before (ORDER_CREATED is not filled in).
        var stored = (await OrderNotifications.Notified(Fixture.ConnectionString, records[0].OrderId)).ShouldHaveSingleItem();
        stored.Id.ShouldBe(records[1].EventId);
        stored.Version.ShouldBeNull();
    }

    [Fact]
    public async Task one_batch_holding_an_orders_events_in_reverse_stores_them_in_version_order_in_its_one_statement()
    {
        var user = await RegisterAndLogin();
        var records = await OrderLog.AppendAsync(Store, user.Id, OrderEventTypes.Paid);
        Fixture.Logs.Clear();

        // The batch as Wolverine would hand it over: ORDER_PAID arrived first, ORDER_CREATED right behind it.
        await using (var scope = Host.Services.CreateAsyncScope())
            await NotifyUsersHandler.Handle([records[1], records[0]], scope.ServiceProvider.GetRequiredService<NotificationsDbContext>(),
                Store, scope.ServiceProvider.GetRequiredService<Wolverine.IMessageContext>(), Host.Services.GetRequiredService<Wolverine.Runtime.IWolverineRuntime>(),
                TimeProvider.System, Fixture.Logs.CreateLogger(nameof(NotifyUsersHandler)), CancellationToken.None);

        await OrderNotifications.ShouldFollowTheLog(Fixture.ConnectionString, records[0].OrderId, 2);
        Fixture.Logs.Entries.ShouldNotContain(e => e.Message.Contains("arrived before its predecessors"), "the batch had no gap: no log read");
    }

    /// <summary>Produces the records (key = order id) and waits until the listener has stored a batch holding each.</summary>
    private Task<ITrackedSession> ProduceAndWait(IReadOnlyList<OrderEvent> records) =>
        Host.TrackActivity().IncludeExternalTransports().Timeout(TrackingTimeout)
            .WaitForCondition(new HandledCount<OrderEvent>(records.Count))
            .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(async _ =>
            {
                foreach (var record in records)
                    await Kafka.ProduceAsync(KafkaSettings.OrderEventsTopic, record.OrderId.ToString(), OrderLog.Json(record));
            }));
}
