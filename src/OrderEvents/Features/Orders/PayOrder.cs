namespace OrderEvents.Features.Orders;

/// <summary>
/// PENDING -> PAID. Wolverine loads the order's stream for writing (404 when it does not exist) and appends the
/// event at the version it read, so of two racing pay/cancel requests the second fails at commit (409).
/// </summary>
public static class PayOrderEndpoint
{
    public static ProblemDetails Validate(Order order, ClaimsPrincipal user) =>
        OrderDecisions.MayMove(order, user.UserId(), OrderStatus.Paid);

    [WolverinePatch("/api/orders/{id}/pay")]
    [ProducesResponseType<ProblemDetails>(StatusCodes.Status404NotFound, "application/problem+json")]
    [ProducesResponseType<ProblemDetails>(StatusCodes.Status409Conflict, "application/problem+json")]
    public static (OrderResponse, Events, OrderEvent) Patch([WriteAggregate] Order order, TimeProvider clock)
    {
        var paid = OrderDecisions.Pay(order, clock.GetUtcNow());
        var after = order.Apply(paid);
        var (stored, published) = LoggedEvent.Next(paid, before: order, after);
        return (OrderResponse.From(after), [stored], published);
    }
}
