using System.Text.Json;
using OrderEvents.Features.Orders;
using Wolverine.Http;

namespace OrderEvents.Tests.Orders;

/// <summary>The order's decisions are pure functions of its state: no host, no database.</summary>
public sealed class OrderDecisionsTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);

    private static Order Pending(long userId = 7) =>
        Order.Create(new OrderPlaced(42, userId, [new OrderItem(1, 2, 15000m)], 30000m, Now.AddMinutes(-5)));

    [Theory]
    [InlineData(OrderStatus.Paid)]
    [InlineData(OrderStatus.Cancelled)]
    public void a_pending_order_of_its_owner_may_be_paid_or_cancelled(OrderStatus next) =>
        OrderDecisions.MayMove(Pending(), 7, next).ShouldBeSameAs(WolverineContinue.NoProblems);

    [Fact]
    public void someone_elses_order_is_a_404_whatever_its_status() =>
        OrderDecisions.MayMove(Pending(userId: 7), 8, OrderStatus.Paid).Status.ShouldBe(404);

    [Theory]
    [InlineData(OrderStatus.Paid, OrderStatus.Paid)]
    [InlineData(OrderStatus.Paid, OrderStatus.Cancelled)]
    [InlineData(OrderStatus.Cancelled, OrderStatus.Paid)]
    [InlineData(OrderStatus.Cancelled, OrderStatus.Cancelled)]
    public void a_paid_or_cancelled_order_cannot_move_and_the_409_names_its_status(OrderStatus current, OrderStatus next)
    {
        var order = current == OrderStatus.Paid
            ? Pending().Apply(OrderDecisions.Pay(Pending(), Now))
            : Pending().Apply(OrderDecisions.Cancel(Now));

        var problem = OrderDecisions.MayMove(order, 7, next);

        problem.Status.ShouldBe(409);
        problem.Detail!.ShouldContain(current.ToString().ToUpperInvariant());
    }

    [Fact]
    public void paying_records_the_amount_and_the_time_and_the_state_follows_the_event()
    {
        var paid = OrderDecisions.Pay(Pending(), Now);

        paid.ShouldBe(new OrderPaid(30000m, Now));
        var after = Pending().Apply(paid);
        after.Status.ShouldBe(OrderStatus.Paid);
        after.UpdatedAt.ShouldBe(Now);
        after.CreatedAt.ShouldBe(Now.AddMinutes(-5));
    }

    [Fact]
    public void the_stored_event_and_the_published_record_share_one_event_id()
    {
        var before = Pending() with { Version = 1 }; // as [WriteAggregate] loads it: ORDER_CREATED is version 1
        var paid = OrderDecisions.Pay(before, Now);
        var (stored, published) = LoggedEvent.Next(paid, before, before.Apply(paid));

        stored.Id.ShouldBe(published.EventId);
        stored.Data.ShouldBe(paid);
        published.EventType.ShouldBe(OrderEventTypes.Paid);
        published.OrderId.ShouldBe(42);
        published.UserId.ShouldBe(7);
        published.TotalAmount.ShouldBe(30000m);
        published.Timestamp.ShouldBe(Now);
        published.Version.ShouldBe(2, "the event appended after version 1 is version 2");
    }

    [Fact]
    public void the_event_that_starts_an_order_is_version_1() =>
        LoggedEvent.First(new OrderPlaced(42, 7, [new OrderItem(1, 2, 15000m)], 30000m, Now), Pending()).Published.Version.ShouldBe(1);

    [Theory]
    [InlineData(0)]
    [InlineData(-2)]
    public void a_record_with_a_version_below_1_cannot_be_read(long version)
    {
        var json = $$"""
            {"eventId":"8f1d3d3e-8d4c-4a8e-9f57-3c0c2b7e0a11","eventType":"ORDER_PAID","timestamp":"2025-01-30T10:15:30.123Z",
             "orderId":5,"userId":5,"totalAmount":1,"version":{{version}}}
            """;
        Should.Throw<InvalidOrderEventException>(() => JsonSerializer.Deserialize<OrderEvent>(json, JsonSerializerOptions.Web)).Message.ShouldContain("positive version");
    }
}
