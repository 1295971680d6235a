using System.Net;
using Alba;
using OrderEvents.Features.Orders;
using OrderEvents.Tests.Support;
using Wolverine.Tracking;
using static OrderEvents.Tests.Orders.OrderScenarios;

namespace OrderEvents.Tests.Orders;

[Collection(AppCollection.Name)]
public sealed class OrderTests(AppFixture fixture) : IntegrationContext(fixture)
{
    [Fact]
    public async Task placing_an_order_snapshots_catalog_prices_computes_the_total_and_publishes_ORDER_CREATED()
    {
        var user = await RegisterAndLogin();
        var (tracked, result) = await TrackedHttpCall(s =>
        {
            s.PlaceOrder(user, Items((1, 2), (3, 3)));
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });

        var order = await result.Json();
        var id = order.GetProperty("id").GetInt64();
        result.Context.Response.Headers.Location.ToString().ShouldBe($"/api/orders/{id}");
        order.GetProperty("userId").GetInt64().ShouldBe(user.Id);
        order.GetProperty("status").GetString().ShouldBe("PENDING");
        order.GetProperty("totalAmount").GetDecimal().ShouldBe(2 * 15000m + 3 * 12.5m);
        order.TryGetProperty("createdAt", out _).ShouldBeTrue();
        var items = order.GetProperty("items").EnumerateArray().ToList();
        items.Select(i => (i.GetProperty("productId").GetInt64(), i.GetProperty("quantity").GetInt32(), i.GetProperty("price").GetDecimal()))
            .ShouldBe([(1L, 2, 15000m), (3L, 3, 12.5m)]);

        var published = tracked.PublishedOrderEvents().ShouldHaveSingleItem();
        published.EventType.ShouldBe("ORDER_CREATED");
        published.OrderId.ShouldBe(id);
        published.UserId.ShouldBe(user.Id);
        published.TotalAmount.ShouldBe(30037.5m);

        var notification = (await NotificationsOf(user)).ShouldHaveSingleItem();
        notification.Type.ShouldBe("ORDER_CREATED");
        notification.OrderId.ShouldBe(id);
        notification.EventId.ShouldBe(published.EventId);
        notification.Message.ShouldBe($"Your order #{id} has been created. Total: $30037.5");
    }

    [Fact]
    public async Task a_later_price_change_does_not_touch_placed_orders()
    {
        var user = await RegisterAndLogin();
        var placed = await (await Host.Scenario(s =>
        {
            s.PlaceOrder(user, Items((2, 1)));
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        })).Json();
        var admin = await LoginAsAdmin();
        await Host.Scenario(s =>
        {
            s.Patch.Json(new { price = 1 }).ToUrl("/api/products/2");
            s.WithBearerToken(admin.Token);
        });

        var order = await (await Host.Scenario(s =>
        {
            s.Get.Url($"/api/orders/{placed.GetProperty("id").GetInt64()}");
            s.WithBearerToken(user.Token);
        })).Json();
        order.GetProperty("totalAmount").GetDecimal().ShouldBe(89000m);
        order.GetProperty("items")[0].GetProperty("price").GetDecimal().ShouldBe(89000m);
    }

    [Fact]
    public async Task pay_moves_a_pending_order_to_PAID_and_publishes_ORDER_PAID()
    {
        var user = await RegisterAndLogin();
        var id = await PlaceOrder(user, Items((1, 1)));

        var (tracked, result) = await TrackedHttpCall(s =>
        {
            s.ChangeOrder(user, id, "pay");
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        (await result.Json()).GetProperty("status").GetString().ShouldBe("PAID");
        tracked.PublishedOrderEvents().ShouldHaveSingleItem().EventType.ShouldBe("ORDER_PAID");
        var notifications = await NotificationsOf(user);
        notifications.Select(n => n.Type).ShouldBe(["ORDER_PAID", "ORDER_CREATED"]); // newest first
        notifications[0].Message.ShouldBe($"Your order #{id} has been paid. Total: $15000");
    }

    [Fact]
    public async Task cancel_moves_a_pending_order_to_CANCELLED_and_publishes_ORDER_CANCELLED()
    {
        var user = await RegisterAndLogin();
        var id = await PlaceOrder(user, Items((4, 1)));

        var (tracked, result) = await TrackedHttpCall(s =>
        {
            s.ChangeOrder(user, id, "cancel");
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        (await result.Json()).GetProperty("status").GetString().ShouldBe("CANCELLED");
        tracked.PublishedOrderEvents().ShouldHaveSingleItem().EventType.ShouldBe("ORDER_CANCELLED");
        (await NotificationsOf(user))[0].Message.ShouldBe($"Your order #{id} has been cancelled.");
    }

    [Theory]
    [InlineData("pay", "pay", "PAID")]
    [InlineData("pay", "cancel", "PAID")]
    [InlineData("cancel", "pay", "CANCELLED")]
    [InlineData("cancel", "cancel", "CANCELLED")]
    public async Task only_a_pending_order_can_change_any_other_transition_is_a_409_naming_the_status(string first, string second, string status)
    {
        var user = await RegisterAndLogin();
        var id = await PlaceOrder(user, Items((1, 1)));
        await Host.Scenario(s => s.ChangeOrder(user, id, first));

        var (tracked, result) = await TrackedHttpCall(s =>
        {
            s.ChangeOrder(user, id, second);
            s.StatusCodeShouldBe(HttpStatusCode.Conflict);
        });

        (await result.Json()).GetProperty("detail").GetString()!.ShouldContain(status);
        tracked.PublishedOrderEvents().ShouldBeEmpty();
    }

    [Fact]
    public async Task two_racing_state_changes_on_one_order_let_exactly_one_win_and_publish_one_event()
    {
        var user = await RegisterAndLogin();
        for (var round = 0; round < 5; round++)
        {
            var id = await PlaceOrder(user, Items((1, 1)));
            IScenarioResult[] results = [];
            var tracked = await Host.TrackActivity().IncludeExternalTransports().Timeout(TrackingTimeout).WaitForNotificationBatches()
                .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(async _ => results = await Task.WhenAll(
                    Host.Scenario(s => { s.ChangeOrder(user, id, "pay"); s.IgnoreStatusCode(); }),
                    Host.Scenario(s => { s.ChangeOrder(user, id, "cancel"); s.IgnoreStatusCode(); }))));

            results.Select(r => r.Status()).Order().ShouldBe([HttpStatusCode.OK, HttpStatusCode.Conflict]);
            var winner = (await results.Single(r => r.Status() == HttpStatusCode.OK).Json()).GetProperty("status").GetString()!;
            (await results.Single(r => r.Status() == HttpStatusCode.Conflict).Json()).GetProperty("detail").GetString()!.ShouldContain(winner);
            tracked.PublishedOrderEvents().ShouldHaveSingleItem().EventType.ShouldBe(winner == "PAID" ? "ORDER_PAID" : "ORDER_CANCELLED");
        }
    }

    [Fact]
    public async Task users_only_ever_see_their_own_orders_and_someone_elses_order_is_a_404()
    {
        var alice = await RegisterAndLogin();
        var bob = await RegisterAndLogin();
        var alicesOrder = await PlaceOrder(alice, Items((1, 1)));
        await PlaceOrder(bob, Items((2, 1)));

        foreach (var (method, url) in new[] { ("GET", $"/api/orders/{alicesOrder}"), ("PATCH", $"/api/orders/{alicesOrder}/pay"), ("PATCH", $"/api/orders/{alicesOrder}/cancel") })
        {
            await Host.Scenario(s =>
            {
                if (method == "GET") s.Get.Url(url); else s.Patch.Url(url);
                s.WithBearerToken(bob.Token);
                s.StatusCodeShouldBe(HttpStatusCode.NotFound);
            });
        }

        var bobsOrders = await (await Host.Scenario(s => { s.Get.Url("/api/orders"); s.WithBearerToken(bob.Token); })).Json();
        bobsOrders.GetProperty("totalCount").GetInt64().ShouldBe(1);
        bobsOrders.GetProperty("items")[0].GetProperty("userId").GetInt64().ShouldBe(bob.Id);
        (await NotificationsOf(bob)).ShouldHaveSingleItem().UserId.ShouldBe(bob.Id);
        (await NotificationsOf(alice)).ShouldHaveSingleItem().UserId.ShouldBe(alice.Id);
    }

    [Fact]
    public async Task an_order_that_does_not_exist_is_a_404_for_get_pay_and_cancel()
    {
        var user = await RegisterAndLogin();
        foreach (var (method, url) in new[] { ("GET", "/api/orders/987654"), ("PATCH", "/api/orders/987654/pay"), ("PATCH", "/api/orders/987654/cancel") })
        {
            var result = await Host.Scenario(s =>
            {
                if (method == "GET") s.Get.Url(url); else s.Patch.Url(url);
                s.WithBearerToken(user.Token);
                s.StatusCodeShouldBe(HttpStatusCode.NotFound);
            });
            result.Context.Response.ContentType!.ShouldStartWith("application/problem+json");
        }
    }

    [Fact]
    public async Task my_orders_are_listed_newest_first_and_paged()
    {
        var user = await RegisterAndLogin();
        var ids = new List<long>();
        for (var i = 0; i < 5; i++) ids.Add(await PlaceOrder(user, Items((1, i + 1))));

        var firstPage = await (await Host.Scenario(s => { s.Get.Url("/api/orders?page=1&pageSize=2"); s.WithBearerToken(user.Token); })).Json();
        firstPage.GetProperty("totalCount").GetInt64().ShouldBe(5);
        firstPage.GetProperty("items").EnumerateArray().Select(o => o.GetProperty("id").GetInt64()).ShouldBe([ids[4], ids[3]]);

        var lastPage = await (await Host.Scenario(s => { s.Get.Url("/api/orders?page=3&pageSize=2"); s.WithBearerToken(user.Token); })).Json();
        lastPage.GetProperty("items").EnumerateArray().Select(o => o.GetProperty("id").GetInt64()).ShouldBe([ids[0]]);

        var capped = await (await Host.Scenario(s => { s.Get.Url("/api/orders?pageSize=1000"); s.WithBearerToken(user.Token); })).Json();
        capped.GetProperty("pageSize").GetInt64().ShouldBe(100);

        await Host.Scenario(s =>
        {
            s.Get.Url("/api/orders?page=abc");
            s.WithBearerToken(user.Token);
            s.StatusCodeShouldBe(HttpStatusCode.BadRequest);
        });
    }

    public static TheoryData<string, string> InvalidOrders => new()
    {
        { """{"items":[]}""", "items" },
        { """{}""", "items" },
        { """{"items":[{"productId":1,"quantity":0}]}""", "items[0].quantity" },
        { """{"items":[{"productId":1,"quantity":1001}]}""", "items[0].quantity" },
        { """{"items":[{"productId":1,"quantity":1},{"productId":1,"quantity":2}]}""", "items" },
        { """{"items":[null]}""", "items" },
        { """{"items":[{"productId":0,"quantity":1}]}""", "items[0].productId" },
        { "{\"items\":[" + string.Join(",", Enumerable.Range(1, 101).Select(i => $"{{\"productId\":{i},\"quantity\":1}}")) + "]}", "items" },
    };

    [Theory]
    [MemberData(nameof(InvalidOrders))]
    public async Task invalid_orders_are_a_400_with_field_errors_and_store_and_publish_nothing(string body, string field)
    {
        var user = await RegisterAndLogin();
        var (tracked, result) = await TrackedHttpCall(s =>
        {
            s.Post.Text(body).ToUrl("/api/orders");
            s.WithRequestHeader("Content-Type", "application/json");
            s.WithBearerToken(user.Token);
            s.StatusCodeShouldBe(HttpStatusCode.BadRequest);
        });

        (await result.Json()).GetProperty("errors").TryGetProperty(field, out _).ShouldBeTrue(await result.ReadAsTextAsync());
        tracked.PublishedOrderEvents().ShouldBeEmpty();
        await ShouldHaveNoOrders(user);
    }

    [Theory]
    [InlineData("")]
    [InlineData("{\"items\":")]
    [InlineData("[1,2]")]
    [InlineData("{\"items\":[{\"productId\":\"one\",\"quantity\":1}]}")]
    public async Task a_missing_or_unreadable_body_is_a_400_problem(string body)
    {
        var user = await RegisterAndLogin();
        var result = await Host.Scenario(s =>
        {
            s.Post.Text(body).ToUrl("/api/orders");
            s.WithRequestHeader("Content-Type", "application/json");
            s.WithBearerToken(user.Token);
            s.StatusCodeShouldBe(HttpStatusCode.BadRequest);
        });
        result.Context.Response.ContentType!.ShouldStartWith("application/problem+json");
        await ShouldHaveNoOrders(user);
    }

    [Fact]
    public async Task unknown_or_inactive_products_are_a_404_naming_them_and_store_and_publish_nothing()
    {
        var user = await RegisterAndLogin();
        var (tracked, result) = await TrackedHttpCall(s =>
        {
            s.PlaceOrder(user, Items((1, 1), (6, 1), (424242, 2)));
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });

        var detail = (await result.Json()).GetProperty("detail").GetString()!;
        detail.ShouldContain("6");
        detail.ShouldContain("424242");
        tracked.PublishedOrderEvents().ShouldBeEmpty();
        await ShouldHaveNoOrders(user);
    }

    [Fact]
    public async Task fifty_concurrent_orders_from_several_users_all_get_their_notification()
    {
        var users = new List<TestUser>();
        for (var i = 0; i < 5; i++) users.Add(await RegisterAndLogin());

        IScenarioResult[] results = [];
        var tracked = await Host.TrackActivity().IncludeExternalTransports().Timeout(TimeSpan.FromSeconds(60)).WaitForNotificationBatches()
            .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(async _ => results = await Task.WhenAll(
                Enumerable.Range(0, 50).Select(i => Host.Scenario(s =>
                {
                    s.PlaceOrder(users[i % users.Count], Items((1 + i % 5, 1 + i)));
                    s.StatusCodeShouldBe(HttpStatusCode.Created);
                })))));

        results.Length.ShouldBe(50);
        tracked.PublishedOrderEvents().Count.ShouldBe(50);
        foreach (var user in users)
        {
            var notifications = await NotificationsOf(user);
            notifications.Count.ShouldBe(10);
            notifications.ShouldAllBe(n => n.Type == "ORDER_CREATED" && n.UserId == user.Id);
            notifications.Select(n => n.OrderId).Distinct().Count().ShouldBe(10);
        }
    }

    private async Task<long> PlaceOrder(TestUser user, CreateOrderRequest request)
    {
        var (_, result) = await TrackedHttpCall(s =>
        {
            s.PlaceOrder(user, request);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        return (await result.Json()).GetProperty("id").GetInt64();
    }

    private async Task ShouldHaveNoOrders(TestUser user)
    {
        var orders = await (await Host.Scenario(s => { s.Get.Url("/api/orders"); s.WithBearerToken(user.Token); })).Json();
        orders.GetProperty("totalCount").GetInt64().ShouldBe(0);
    }
}
