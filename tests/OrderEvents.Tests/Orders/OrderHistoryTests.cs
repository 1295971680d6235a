using System.Net;
using Alba;
using Microsoft.EntityFrameworkCore;
using OrderEvents.Tests.Support;
using static OrderEvents.Tests.Orders.OrderScenarios;

namespace OrderEvents.Tests.Orders;

[Collection(AppCollection.Name)]
public sealed class OrderHistoryTests(AppFixture fixture) : IntegrationContext(fixture)
{
    [Fact]
    public async Task an_orders_history_lists_its_events_oldest_first_with_the_ids_its_notifications_carry()
    {
        var user = await RegisterAndLogin();
        var (_, placed) = await TrackedHttpCall(s =>
        {
            s.PlaceOrder(user, Items((1, 2)));
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        var id = (await placed.Json()).GetProperty("id").GetInt64();
        await TrackedHttpCall(s =>
        {
            s.ChangeOrder(user, id, "pay");
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var history = (await (await Host.Scenario(s =>
        {
            s.Get.Url($"/api/orders/{id}/events");
            s.WithBearerToken(user.Token);
        })).Json()).EnumerateArray().ToList();

        history.Select(e => e.GetProperty("eventType").GetString()).ShouldBe(["ORDER_CREATED", "ORDER_PAID"]);
        history.Select(e => e.GetProperty("version").GetInt64()).ShouldBe([1L, 2L]);
        history.ShouldAllBe(e => e.GetProperty("totalAmount").GetDecimal() == 30000m);
        history[0].GetProperty("items")[0].GetProperty("price").GetDecimal().ShouldBe(15000m);
        (history[0].GetProperty("timestamp").GetDateTimeOffset() <= history[1].GetProperty("timestamp").GetDateTimeOffset()).ShouldBeTrue();

        // One event id: the stored event's, the Kafka record's and the notification's.
        var eventIds = history.Select(e => e.GetProperty("eventId").GetGuid()).ToList();
        var notified = await Notifications(all => all.Where(n => n.OrderId == id).Select(n => n.Id).ToListAsync());
        notified.ShouldBe(eventIds, ignoreOrder: true);
        var logged = await Sql.ScalarAsync(Fixture.ConnectionString, $"select count(*) from orderevents.mt_events where id in ('{eventIds[0]}', '{eventIds[1]}')");
        Convert.ToInt64(logged).ShouldBe(2);
    }

    [Fact]
    public async Task someone_elses_or_a_missing_orders_history_is_a_404()
    {
        var owner = await RegisterAndLogin();
        var stranger = await RegisterAndLogin();
        var (_, placed) = await TrackedHttpCall(s =>
        {
            s.PlaceOrder(owner, Items((1, 1)));
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        var id = (await placed.Json()).GetProperty("id").GetInt64();

        await Host.Scenario(s =>
        {
            s.Get.Url($"/api/orders/{id}/events");
            s.WithBearerToken(stranger.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });
        await Host.Scenario(s =>
        {
            s.Get.Url("/api/orders/987654321/events");
            s.WithBearerToken(owner.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });
        await Host.Scenario(s =>
        {
            s.Get.Url($"/api/orders/{id}/events");
            s.StatusCodeShouldBe(HttpStatusCode.Unauthorized);
        });
    }
}
