using Microsoft.EntityFrameworkCore;
using System.Diagnostics;
using System.Net;
using Xunit.Abstractions;
using OrderEvents.Features.Orders;
using OrderEvents.Tests.Support;
using Wolverine.Tracking;
using static OrderEvents.Tests.Orders.OrderScenarios;

namespace OrderEvents.Tests.Faults;

/// <summary>The broker gone for 10 s while orders keep coming: every POST answers fast, every event arrives after.</summary>
[Collection(AppCollection.Name)]
[Trait("Category", "Faults")]
public sealed class BrokerOutageUnderLoadTests(AppFixture fixture, ITestOutputHelper output) : IntegrationContext(fixture)
{
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(10);

    [EmbeddedBrokerFact]
    public async Task ten_seconds_without_the_broker_under_a_stream_of_orders_every_post_is_a_fast_201_and_every_event_arrives_after()
    {
        var broker = Fixture.Broker!;
        var user = await RegisterAndLogin();
        var orderIds = new List<long>();
        var latencies = new List<TimeSpan>();

        broker.TakeDown();
        try
        {
            // About ten orders a second for the whole outage (the timer paces the load; it waits for nothing).
            var outage = Stopwatch.StartNew();
            using var pace = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
            while (outage.Elapsed < Outage && await pace.WaitForNextTickAsync())
            {
                var post = Stopwatch.StartNew();
                var created = await Host.Scenario(s =>
                {
                    s.PlaceOrder(user, Items((1, 1)));
                    s.StatusCodeShouldBe(HttpStatusCode.Created);
                });
                latencies.Add(post.Elapsed);
                orderIds.Add((await created.Json()).GetProperty("id").GetInt64());
            }

            // Nothing got through while the broker was down: every event still waits in the outbox.
            (await NotificationsOf(user)).ShouldBeEmpty("a notification arrived while the broker was down");
            ((long)(await Sql.ScalarAsync(Fixture.ConnectionString,
                    "select count(*) from orderevents.wolverine_outgoing_envelopes where message_type like '%OrderEvent%'"))!)
                .ShouldBeGreaterThanOrEqualTo(orderIds.Count, "the events left the outbox: the broker was not down");

            await Host.TrackActivity().IncludeExternalTransports().Timeout(TimeSpan.FromSeconds(120))
                .DoNotAssertOnExceptionsDetected()
                .WaitForCondition(new HandledCount<OrderEvent>(orderIds.Count, distinctBy: e => e.EventId))
                .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(_ =>
                {
                    broker.BringUp();
                    return Task.CompletedTask;
                }));
        }
        finally
        {
            broker.BringUp();
        }

        orderIds.Count.ShouldBeGreaterThan(50);
        var sorted = latencies.OrderBy(l => l).ToList();
        var p95 = sorted[(int)(sorted.Count * 0.95)];
        output.WriteLine($"{orderIds.Count} orders during the outage; POST p50 {sorted[sorted.Count / 2].TotalMilliseconds:F0} ms, p95 {p95.TotalMilliseconds:F0} ms, max {sorted[^1].TotalMilliseconds:F0} ms");
        p95.ShouldBeLessThan(TimeSpan.FromMilliseconds(500), $"POSTs slowed down while the broker was down (max {sorted[^1].TotalMilliseconds:F0} ms)");
        // From the store, not the API: the API pages at most 100 and this test places more.
        (await Notifications(all => all.Where(n => n.UserId == user.Id).Select(n => n.OrderId).ToListAsync()))
            .ShouldBe(orderIds, ignoreOrder: true);
    }
}
