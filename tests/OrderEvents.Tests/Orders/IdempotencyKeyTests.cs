using System.Net;
using Alba;
using Marten;
using OrderEvents.Features.Orders;
using OrderEvents.Tests.Support;
using static OrderEvents.Tests.Orders.OrderScenarios;

namespace OrderEvents.Tests.Orders;

/// <summary>POST /api/orders with an Idempotency-Key: a retry gets the first answer back and creates nothing.</summary>
[Collection(AppCollection.Name)]
public sealed class IdempotencyKeyTests(AppFixture fixture) : IntegrationContext(fixture)
{
    private static readonly CreateOrderRequest Basket = Items((1, 1), (3, 2));

    private static Action<Scenario> PlaceWithKey(TestUser user, string? key, CreateOrderRequest request) => s =>
    {
        s.PlaceOrder(user, request);
        if (key is not null) s.WithRequestHeader("Idempotency-Key", key);
        s.IgnoreStatusCode();
    };

    [Fact]
    public async Task a_repeat_with_the_same_key_and_body_gets_the_first_response_and_creates_nothing()
    {
        var user = await RegisterAndLogin();
        var key = Guid.NewGuid().ToString();
        var (_, first) = await TrackedHttpCall(PlaceWithKey(user, key, Basket));
        first.Status().ShouldBe(HttpStatusCode.Created);
        var firstBody = await first.ReadAsTextAsync();

        var (tracked, repeat) = await TrackedHttpCall(PlaceWithKey(user, key, Basket));

        repeat.Status().ShouldBe(HttpStatusCode.Created);
        (await repeat.ReadAsTextAsync()).ShouldBe(firstBody);
        repeat.Context.Response.Headers.Location.ToString().ShouldBe(first.Context.Response.Headers.Location.ToString());
        tracked.PublishedOrderEvents().ShouldBeEmpty();
        (await OrdersOf(user)).ShouldBe(1);
        (await OrderStreamEvents()).ShouldBe(1);
        (await NotificationsOf(user)).ShouldHaveSingleItem();
    }

    [Fact]
    public async Task the_same_key_with_a_different_body_is_a_422_and_creates_nothing()
    {
        var user = await RegisterAndLogin();
        var key = Guid.NewGuid().ToString();
        (await Host.Scenario(PlaceWithKey(user, key, Basket))).Status().ShouldBe(HttpStatusCode.Created);

        var other = await Host.Scenario(PlaceWithKey(user, key, Items((2, 1))));

        other.Status().ShouldBe(HttpStatusCode.UnprocessableEntity);
        other.Context.Response.ContentType!.ShouldStartWith("application/problem+json");
        (await OrdersOf(user)).ShouldBe(1);
    }

    [Fact]
    public async Task two_racing_requests_with_one_key_create_one_order_and_both_get_it()
    {
        var user = await RegisterAndLogin();
        var key = Guid.NewGuid().ToString();

        var twins = await Task.WhenAll(
            Host.Scenario(PlaceWithKey(user, key, Basket)),
            Host.Scenario(PlaceWithKey(user, key, Basket)));

        twins.Select(t => t.Status()).ShouldAllBe(status => status == HttpStatusCode.Created);
        var bodies = await Task.WhenAll(twins.Select(t => t.ReadAsTextAsync()));
        bodies[1].ShouldBe(bodies[0]);
        (await OrdersOf(user)).ShouldBe(1);
        (await OrderStreamEvents()).ShouldBe(1);
    }

    [Fact]
    public async Task keys_belong_to_their_user()
    {
        var alice = await RegisterAndLogin();
        var bob = await RegisterAndLogin();
        var key = Guid.NewGuid().ToString();

        var forAlice = await Host.Scenario(PlaceWithKey(alice, key, Basket));
        var forBob = await Host.Scenario(PlaceWithKey(bob, key, Basket));

        forAlice.Status().ShouldBe(HttpStatusCode.Created);
        forBob.Status().ShouldBe(HttpStatusCode.Created);
        (await forBob.Json()).GetProperty("id").GetInt64().ShouldNotBe((await forAlice.Json()).GetProperty("id").GetInt64());
        (await OrdersOf(alice)).ShouldBe(1);
        (await OrdersOf(bob)).ShouldBe(1);
    }

    [Fact]
    public async Task without_a_key_every_post_is_a_new_order()
    {
        var user = await RegisterAndLogin();

        var first = await Host.Scenario(PlaceWithKey(user, null, Basket));
        var second = await Host.Scenario(PlaceWithKey(user, null, Basket));

        first.Status().ShouldBe(HttpStatusCode.Created);
        second.Status().ShouldBe(HttpStatusCode.Created);
        (await OrdersOf(user)).ShouldBe(2);
    }

    private async Task<int> OrdersOf(TestUser user)
    {
        await using var session = Store.QuerySession();
        return await session.Query<Order>().CountAsync(order => order.UserId == user.Id);
    }

    /// <summary>Orders placed in the log (a losing twin's rolled-back append leaves only Marten's tombstone).</summary>
    private async Task<int> OrderStreamEvents()
    {
        await using var session = Store.QuerySession();
        return await session.Events.QueryRawEventDataOnly<OrderPlaced>().CountAsync();
    }
}
