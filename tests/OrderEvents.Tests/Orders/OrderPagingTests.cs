using System.Text.Json;
using Alba;
using JasperFx.Events;
using OrderEvents.Features.Orders;
using OrderEvents.Tests.Support;

namespace OrderEvents.Tests.Orders;

/// <summary>
/// GET /api/orders pages: newest first, equal timestamps broken by the larger order id, every order on exactly one page,
/// the user's total on every page (past the last one too). The orders are appended to the log directly, the way the
/// API's endpoints append them (the inline projection stores each order in the same transaction), so that their
/// timestamps can be chosen.
/// </summary>
[Collection(AppCollection.Name)]
public sealed class OrderPagingTests(AppFixture fixture) : IntegrationContext(fixture)
{
    private static readonly DateTimeOffset Noon = DateTimeOffset.Parse("2026-03-01T12:00:00.1234567Z");

    [Fact]
    public async Task pages_are_newest_first_ties_go_to_the_larger_id_and_every_order_is_on_exactly_one_page()
    {
        var user = await RegisterAndLogin();
        var other = await RegisterAndLogin();
        // Ids of different lengths share a timestamp: ordering ties by the stream key's text would put 9 before 10 and 11.
        await LogOrders(user.Id, (9, Noon), (10, Noon), (11, Noon), (1000, Noon.AddSeconds(-1)), (99, Noon.AddSeconds(-1)), (5, Noon.AddMilliseconds(1)));
        await LogOrders(other.Id, (12, Noon), (13, Noon.AddSeconds(5)));
        // A later event changes the order's document, not its place.
        await Pay(10, Noon.AddMinutes(1));
        long[] newestFirst = [5, 11, 10, 9, 1000, 99];

        var first = await Page(user, "page=1&pageSize=4");
        Ids(first).ShouldBe([5, 11, 10, 9]);
        (first.GetProperty("pageNumber").GetInt64(), first.GetProperty("pageSize").GetInt64(), first.GetProperty("totalCount").GetInt64()).ShouldBe((1, 4, 6));
        first.GetProperty("items")[0].GetProperty("createdAt").GetDateTimeOffset().ShouldBe(Noon.AddMilliseconds(1));
        var last = await Page(user, "page=2&pageSize=4");
        Ids(last).ShouldBe([1000, 99]);
        last.GetProperty("totalCount").GetInt64().ShouldBe(6);

        var walked = new List<long>();
        for (var page = 1; page <= 3; page++) walked.AddRange(Ids(await Page(user, $"page={page}&pageSize=2")));
        walked.ShouldBe(newestFirst);
        Ids(await Page(user, "pageSize=100")).ShouldBe(newestFirst);
        var paid = (await Page(user, "page=2&pageSize=2")).GetProperty("items")[0];
        (paid.GetProperty("id").GetInt64(), paid.GetProperty("status").GetString()).ShouldBe((10, "PAID"));

        foreach (var beyond in new[] { "page=4&pageSize=2", "page=10000000&pageSize=100" })
        {
            var empty = await Page(user, beyond);
            Ids(empty).ShouldBeEmpty();
            empty.GetProperty("totalCount").GetInt64().ShouldBe(6, $"{beyond}: the total does not depend on the page");
        }

        var others = await Page(other, "page=1&pageSize=20");
        Ids(others).ShouldBe([13, 12]);
        others.GetProperty("totalCount").GetInt64().ShouldBe(2);
    }

    [Fact]
    public async Task a_user_without_orders_gets_an_empty_first_page_with_a_zero_total()
    {
        var user = await RegisterAndLogin();
        var page = await Page(user, "page=1&pageSize=20");
        Ids(page).ShouldBeEmpty();
        page.GetProperty("totalCount").GetInt64().ShouldBe(0);
    }

    private async Task LogOrders(long userId, params (long Id, DateTimeOffset At)[] orders)
    {
        await using var session = Store.LightweightSession();
        foreach (var (id, at) in orders)
            session.Events.StartStream<Order>(Order.StreamKeyOf(id),
                new Event<OrderPlaced>(new OrderPlaced(id, userId, [new OrderItem(1, 1, 15000m)], 15000m, at)) { Id = Guid.CreateVersion7() });
        await session.SaveChangesAsync();
    }

    private async Task Pay(long id, DateTimeOffset at)
    {
        await using var session = Store.LightweightSession();
        session.Events.Append(Order.StreamKeyOf(id), new Event<OrderPaid>(new OrderPaid(15000m, at)) { Id = Guid.CreateVersion7() });
        await session.SaveChangesAsync();
    }

    private async Task<JsonElement> Page(TestUser user, string query) =>
        await (await Host.Scenario(s =>
        {
            s.Get.Url($"/api/orders?{query}");
            s.WithBearerToken(user.Token);
        })).Json();

    private static long[] Ids(JsonElement page) => page.GetProperty("items").EnumerateArray().Select(order => order.GetProperty("id").GetInt64()).ToArray();
}
