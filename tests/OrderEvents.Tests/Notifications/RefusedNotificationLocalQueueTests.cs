using System.Collections.Concurrent;
using System.Net;
using Alba;
using JasperFx.Core;
using Microsoft.Extensions.DependencyInjection;
using OrderEvents.Features.Orders;
using OrderEvents.Tests.Orders;
using OrderEvents.Tests.Support;
using Wolverine.Persistence.Durability;
using Wolverine.Persistence.Durability.DeadLetterManagement;
using Wolverine.Runtime;
using Wolverine.Tracking;
using static OrderEvents.Tests.Orders.OrderScenarios;

namespace OrderEvents.Tests.Notifications;

/// <summary>
/// KAFKA_ENABLED=false: a record PostgreSQL refuses goes to Wolverine's own dead-letter storage (where the local
/// queue's dead letters always went), the rest is stored, and Wolverine's dead-letter replay stores it once the cause
/// is gone.
/// </summary>
[Collection(KafkaDisabledCollection.Name)]
[Trait("Category", "Faults")]
public sealed class RefusedNotificationLocalQueueTests(KafkaDisabledAppFixture fixture) : IntegrationContext(fixture)
{
    private const string Constraint = "refuse_one_users_created_orders";

    public override async Task InitializeAsync()
    {
        await DropConstraint();
        await base.InitializeAsync();
        await Sql.ExecuteAsync(Fixture.ConnectionString, "truncate notifications.dead_lettered_events; delete from orderevents.wolverine_dead_letters");
    }

    public override async Task DisposeAsync()
    {
        await DropConstraint();
        await base.DisposeAsync();
    }

    [Fact]
    public async Task a_refused_record_goes_to_wolverines_dead_letters_and_a_replay_stores_it_once_the_cause_is_gone()
    {
        var refused = await RegisterAndLogin();
        var other = await RegisterAndLogin();
        await PlaceOrders(other, 1);
        await Sql.ExecuteAsync(Fixture.ConnectionString,
            $"alter table notifications.notifications add constraint {Constraint} check (user_id <> {refused.Id} or type <> 'ORDER_CREATED') not valid");

        var refusedOrder = (await PlaceOrders(refused, 1, alongside: (other, 3))).Single();

        (await NotificationsOf(other)).Count.ShouldBe(4);
        (await NotificationsOf(refused)).ShouldBeEmpty();
        var letter = await SingleDeadLetter();
        letter.ExceptionMessage.ShouldContain(Constraint);
        letter.MessageType.ShouldContain(nameof(OrderEvent));
        Convert.ToInt64(await Sql.ScalarAsync(Fixture.ConnectionString, $"select count(*) from notifications.dead_lettered_events where order_id = {refusedOrder}")).ShouldBe(1);
        Convert.ToInt64(await Sql.ScalarAsync(Fixture.ConnectionString, $"select count(*) from orderevents.wolverine_incoming_envelopes where id = '{letter.Id}'"))
            .ShouldBe(0, "the record left the inbox, as with Wolverine's own dead-lettering");

        await DropConstraint();
        var stored = new EventStored(refusedOrder);
        await Host.TrackActivity().IncludeExternalTransports().Timeout(TrackingTimeout).DoNotAssertOnExceptionsDetected()
            .WaitForCondition(stored)
            .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(_ =>
                Host.Services.GetRequiredService<IWolverineRuntime>().Storage.DeadLetters.ReplayAsync(new DeadLetterEnvelopeQuery(), CancellationToken.None)));

        (await NotificationsOf(refused)).ShouldHaveSingleItem().OrderId.ShouldBe(refusedOrder);
        Convert.ToInt64(await Sql.ScalarAsync(Fixture.ConnectionString, "select count(*) from orderevents.wolverine_dead_letters")).ShouldBe(0);
    }

    /// <summary>Places the orders at once (in the same batches) and waits until every event is stored or dead-lettered.</summary>
    private async Task<List<long>> PlaceOrders(TestUser user, int count, (TestUser User, int Count)? alongside = null)
    {
        var placed = new ConcurrentBag<(TestUser User, long OrderId)>();
        var all = Enumerable.Repeat(user, count).Concat(alongside is { } a ? Enumerable.Repeat(a.User, a.Count) : []);
        await Host.TrackActivity().IncludeExternalTransports().Timeout(TrackingTimeout).DoNotAssertOnExceptionsDetected()
            .WaitForNotificationBatches()
            .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(_ => Task.WhenAll(all.Select(async u =>
            {
                var result = await Host.Scenario(s =>
                {
                    s.PlaceOrder(u, Items((1, 1)));
                    s.StatusCodeShouldBe(HttpStatusCode.Created);
                });
                placed.Add((u, (await result.Json()).GetProperty("id").GetInt64()));
            }))));
        return placed.Where(p => p.User == user).Select(p => p.OrderId).ToList();
    }

    private async Task<DeadLetterEnvelope> SingleDeadLetter()
    {
        var results = await Host.Services.GetRequiredService<IWolverineRuntime>().Storage.DeadLetters
            .QueryAsync(new DeadLetterEnvelopeQuery(), CancellationToken.None);
        return results.Envelopes.ShouldHaveSingleItem();
    }

    private Task DropConstraint() => Sql.ExecuteAsync(Fixture.ConnectionString,
        $"alter table notifications.notifications drop constraint if exists {Constraint}");

    private sealed class EventStored(long orderId) : ITrackedCondition
    {
        private volatile bool _stored;

        public void Record(EnvelopeRecord record)
        {
            if (NotificationBatches.Stored(record).Any(e => e.OrderId == orderId)) _stored = true;
        }

        public bool IsCompleted() => _stored;

        public override string ToString() => $"order {orderId}'s event stored: {_stored}";
    }
}
