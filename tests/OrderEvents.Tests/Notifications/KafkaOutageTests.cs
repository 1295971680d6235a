using System.Net;
using System.Text;
using Alba;
using Microsoft.Extensions.DependencyInjection;
using OrderEvents.Features.Orders;
using OrderEvents.Infrastructure.Kafka;
using OrderEvents.Tests.Orders;
using OrderEvents.Tests.Support;
using Wolverine.Runtime;
using Wolverine.Tracking;
using static OrderEvents.Tests.Orders.OrderScenarios;

namespace OrderEvents.Tests.Notifications;

/// <summary>Nothing is lost while the consumer is stopped or the broker is unreachable.</summary>
[Collection(AppCollection.Name)]
[Trait("Category", "Faults")]
public sealed class KafkaOutageTests(AppFixture fixture) : IntegrationContext(fixture)
{
    [Fact]
    public async Task events_published_while_the_consumer_is_stopped_are_handled_after_it_restarts()
    {
        var user = await RegisterAndLogin();
        var listener = Host.Services.GetRequiredService<IWolverineRuntime>().Endpoints.ActiveListeners()
            .Single(agent => agent.Uri.Scheme == "kafka");
        await listener.StopAndDrainAsync();

        var orderIds = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var created = await Host.Scenario(s =>
            {
                s.PlaceOrder(user, Items((1, i + 1)));
                s.StatusCodeShouldBe(HttpStatusCode.Created);
            });
            orderIds.Add((await created.Json()).GetProperty("id").GetInt64().ToString());
        }

        // The backlog is in Kafka (the outbox delivered it), yet nobody consumed it.
        new KafkaProbe(Fixture.BootstrapServers).ReadUntil(KafkaSettings.OrderEventsTopic, r => orderIds.Contains(r.Message.Key), count: 3)
            .Count.ShouldBe(3);
        (await NotificationsOf(user)).ShouldBeEmpty();

        await Host.TrackActivity().IncludeExternalTransports().Timeout(TrackingTimeout)
            .WaitForCondition(new HandledCount<OrderEvent>(3))
            .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(async _ => await listener.StartAsync()));

        (await NotificationsOf(user)).Select(n => n.OrderId.ToString()).ShouldBe(orderIds, ignoreOrder: true);
    }

    [Fact]
    public async Task a_database_outage_delays_notifications_but_dead_letters_nothing()
    {
        var user = await RegisterAndLogin();
        var eventId = Guid.NewGuid();
        var record = $$"""{"eventId":"{{eventId}}","eventType":"ORDER_CREATED","timestamp":"2025-01-30T10:15:30.123Z","orderId":31337,"userId":{{user.Id}},"totalAmount":5}""";

        // The handler's table disappears: every attempt fails with a PostgreSQL error, as during an outage, until the
        // sixth attempt (about 8 s in) brings it back. Without the retry policy the record goes to the DLQ at once.
        await Sql.ExecuteAsync(Fixture.ConnectionString, "alter table notifications.notifications rename to notifications_away");
        var outage = new RecoversAfterAttempts(6, () => Sql.ExecuteAsync(Fixture.ConnectionString, "alter table notifications.notifications_away rename to notifications"));

        await Host.TrackActivity().IncludeExternalTransports().Timeout(TimeSpan.FromSeconds(120))
            .DoNotAssertOnExceptionsDetected()
            .WaitForCondition(outage)
            .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(_ =>
                new KafkaProbe(Fixture.BootstrapServers).ProduceAsync(KafkaSettings.OrderEventsTopic, "31337", record)));

        outage.DeadLettered.ShouldBeFalse();
        outage.Attempts.ShouldBeGreaterThanOrEqualTo(6);
        (await NotificationsOf(user)).ShouldHaveSingleItem().EventId.ShouldBe(eventId);
    }

    [EmbeddedBrokerFact]
    public async Task an_order_placed_while_the_broker_is_down_gets_201_and_its_event_is_delivered_when_the_broker_is_back()
    {
        var broker = Fixture.Broker!;
        var user = await RegisterAndLogin();

        broker.TakeDown();
        try
        {
            var created = await Host.Scenario(s =>
            {
                s.PlaceOrder(user, Items((2, 1)));
                s.StatusCodeShouldBe(HttpStatusCode.Created);
            });
            var orderId = (await created.Json()).GetProperty("id").GetInt64();

            // The 201 went out with the event committed in the outbox table (the same transaction as the order),
            // where it waits for the broker: nothing lives only in memory. With the broker up the sender empties the
            // outbox and the listener notifies within tens of milliseconds, so a second of both staying put proves the
            // broker really was down (and that this test would notice if it were not).
            var observedDown = System.Diagnostics.Stopwatch.StartNew();
            while (observedDown.Elapsed < TimeSpan.FromSeconds(1))
            {
                ((long)(await Sql.ScalarAsync(Fixture.ConnectionString,
                        "select count(*) from orderevents.wolverine_outgoing_envelopes where message_type like '%OrderEvent%'"))!)
                    .ShouldBeGreaterThanOrEqualTo(1, $"the event left the outbox {observedDown.ElapsedMilliseconds} ms after the 201: the broker was not down");
                (await NotificationsOf(user)).ShouldBeEmpty("a notification arrived while the broker was down");
                await Task.Delay(50);
            }

            var tracked = await Host.TrackActivity().IncludeExternalTransports().Timeout(TimeSpan.FromSeconds(90))
                .DoNotAssertOnExceptionsDetected()
                .WaitForCondition(new HandledCount<OrderEvent>(1))
                .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(_ =>
                {
                    broker.BringUp();
                    return Task.CompletedTask;
                }));

            var notification = (await NotificationsOf(user)).ShouldHaveSingleItem();
            notification.OrderId.ShouldBe(orderId);
            notification.Type.ShouldBe("ORDER_CREATED");
        }
        finally
        {
            broker.BringUp();
        }
    }
}

/// <summary>
/// The database "comes back" (via <paramref name="recover"/>) after the notification batch handler has started this
/// many times. A dead-lettered event counts as an end too (single: the record itself; array: its batch).
/// </summary>
public sealed class RecoversAfterAttempts(int attemptsBeforeRecovery, Func<Task> recover) : ITrackedCondition
{
    private int _attempts;
    private volatile bool _succeeded;

    public int Attempts => _attempts;
    public bool DeadLettered { get; private set; }

    public void Record(EnvelopeRecord record)
    {
        if (record.Message is not (OrderEvent or OrderEvent[])) return;
        if (record.MessageEventType == MessageEventType.MovedToErrorQueue) DeadLettered = true;
        if (record.Message is not OrderEvent[]) return;
        switch (record.MessageEventType)
        {
            case MessageEventType.ExecutionStarted when Interlocked.Increment(ref _attempts) == attemptsBeforeRecovery:
                _ = Task.Run(recover);
                break;
            case MessageEventType.MessageSucceeded:
                _succeeded = true;
                break;
        }
    }

    public bool IsCompleted() => _succeeded || DeadLettered;

    public override string ToString() => $"attempts {_attempts}, succeeded {_succeeded}, dead-lettered {DeadLettered}";
}
