using System.Net;
using System.Text;
using Alba;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OrderEvents.Features.Orders;
using OrderEvents.Infrastructure.Kafka;
using OrderEvents.Tests.Support;
using Wolverine.Tracking;
using static OrderEvents.Tests.Orders.OrderScenarios;

namespace OrderEvents.Tests.Orders;

[Collection(AppCollection.Name)]
public sealed class ReplayTests(AppFixture fixture) : IntegrationContext(fixture)
{
    private OrderEventReplay Replay => Host.Services.GetRequiredService<OrderEventReplay>();

    [Fact]
    public async Task replaying_the_log_republishes_each_event_with_its_id_and_key_and_creates_no_new_notification()
    {
        var user = await RegisterAndLogin();
        var first = await PlaceOrder(user);
        var second = await PlaceOrder(user);
        await TrackedHttpCall(s =>
        {
            s.ChangeOrder(user, first, "pay");
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        var before = await Notifications(all => all.Select(n => n.Id).ToListAsync());
        before.Count.ShouldBe(3);

        var tracked = await Host.TrackActivity().IncludeExternalTransports().Timeout(TrackingTimeout)
            .WaitForCondition(new HandledCount<OrderEvent>(3))
            .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(async _ =>
                (await Replay.ReplayAsync(new ReplayFilter(), null, CancellationToken.None)).ShouldBe(3)));

        var replayed = tracked.PublishedOrderEvents();
        replayed.Select(e => e.EventId).ShouldBe(before, ignoreOrder: true);
        // Log order: one order's events keep their order.
        replayed.Where(e => e.OrderId == first).Select(e => e.EventType).ShouldBe(["ORDER_CREATED", "ORDER_PAID"]);
        replayed.Single(e => e.OrderId == second).EventType.ShouldBe("ORDER_CREATED");
        (await Notifications(all => all.Select(n => n.Id).ToListAsync())).ShouldBe(before, ignoreOrder: true);

        // A consumer group that never saw the topic reads every replayed event, keyed by its order.
        var records = new KafkaProbe(Fixture.BootstrapServers).ReadUntil(KafkaSettings.OrderEventsTopic,
            record => before.Any(id => Encoding.UTF8.GetString(record.Message.Value).Contains(id.ToString())), count: 6);
        records.Count.ShouldBe(6); // each event twice: first published, then replayed
        records.ShouldAllBe(record => record.Message.Key == first.ToString() || record.Message.Key == second.ToString());
    }

    [Fact]
    public async Task a_replay_can_be_limited_to_one_order_or_to_events_since_a_time()
    {
        var user = await RegisterAndLogin();
        var first = await PlaceOrder(user);
        await PlaceOrder(user);

        var oneOrder = await Host.TrackActivity().IncludeExternalTransports().Timeout(TrackingTimeout)
            .WaitForCondition(new HandledCount<OrderEvent>(1))
            .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(async _ =>
                (await Replay.ReplayAsync(new ReplayFilter(OrderId: first), null, CancellationToken.None)).ShouldBe(1)));
        oneOrder.PublishedOrderEvents().ShouldHaveSingleItem().OrderId.ShouldBe(first);

        (await Replay.ReplayAsync(new ReplayFilter(Since: DateTimeOffset.UtcNow.AddMinutes(1)), null, CancellationToken.None)).ShouldBe(0);
        (await Replay.ReplayAsync(new ReplayFilter(OrderId: 987654321), null, CancellationToken.None)).ShouldBe(0);
    }

    private async Task<long> PlaceOrder(TestUser user)
    {
        var (_, result) = await TrackedHttpCall(s =>
        {
            s.PlaceOrder(user, Items((1, 1)));
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        return (await result.Json()).GetProperty("id").GetInt64();
    }
}
