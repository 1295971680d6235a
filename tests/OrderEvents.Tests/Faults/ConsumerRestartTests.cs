using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Alba;
using JasperFx.Core;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OrderEvents.Tests.Support;
using Wolverine.Runtime;
using static OrderEvents.Tests.Orders.OrderScenarios;

namespace OrderEvents.Tests.Faults;

/// <summary>The consumer stops and comes back while orders keep arriving over HTTP: each order ends with one notification.</summary>
[Collection(AppCollection.Name)]
[Trait("Category", "Faults")]
public sealed class ConsumerRestartTests(AppFixture fixture) : IntegrationContext(fixture)
{
    [Fact]
    public async Task orders_placed_before_during_and_after_a_consumer_restart_each_get_exactly_one_notification()
    {
        var user = await RegisterAndLogin();
        var listener = Host.Services.GetRequiredService<IWolverineRuntime>().Endpoints.ActiveListeners()
            .Single(agent => agent.Uri.Scheme == "kafka");
        var placed = new ConcurrentQueue<long>();
        using var stop = new CancellationTokenSource();

        // A steady stream of orders, one after the other, for the whole test.
        var stream = Task.Run(async () =>
        {
            var i = 0;
            while (!stop.IsCancellationRequested)
            {
                var created = await Host.Scenario(s =>
                {
                    s.PlaceOrder(user, Items((1, i++ % 5 + 1)));
                    s.StatusCodeShouldBe(HttpStatusCode.Created);
                });
                placed.Enqueue((await created.Json()).GetProperty("id").GetInt64());
                await Task.Delay(20); // a steady client, not a flood
            }
        });

        await Until(() => placed.Count >= 5, "5 orders before the stop");
        await listener.StopAndDrainAsync();
        var placedBeforeStop = placed.Count;
        await Until(() => placed.Count >= placedBeforeStop + 5, "5 orders while the consumer is stopped");
        var notifiedWhileStopped = (await NotifiedOrders(user)).Count;
        await listener.StartAsync();
        var placedBeforeStart = placed.Count;
        await Until(() => placed.Count >= placedBeforeStart + 5, "5 orders after the restart");
        await stop.CancelAsync();
        await stream;

        var orders = placed.ToHashSet();
        notifiedWhileStopped.ShouldBeLessThanOrEqualTo(placedBeforeStop, "orders placed while the consumer was stopped were notified");
        await Until(async () => (await NotifiedOrders(user)).Count >= orders.Count, $"{orders.Count} notifications", 60.Seconds());

        var notified = await NotifiedOrders(user);
        notified.ShouldBe(orders, ignoreOrder: true);
        await PipelineFlowsAgain();
    }

    private Task<List<long>> NotifiedOrders(TestUser user) =>
        Notifications(all => all.Where(n => n.UserId == user.Id && n.Type == "ORDER_CREATED").Select(n => n.OrderId).ToListAsync());

    private static Task Until(Func<bool> condition, string what) => Until(() => Task.FromResult(condition()), what, 30.Seconds());

    private static async Task Until(Func<Task<bool>> condition, string what, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > timeout) throw new TimeoutException($"waited {timeout} for {what}");
            await Task.Delay(50);
        }
    }
}
