namespace OrderEvents.Features.Orders;

/// <summary>PENDING -> CANCELLED, with the same loading and race rules as <see cref="PayOrderEndpoint"/>.</summary>
public static class CancelOrderEndpoint
{
    public static ProblemDetails Validate(Order order, ClaimsPrincipal user) =>
        OrderDecisions.MayMove(order, user.UserId(), OrderStatus.Cancelled);

    [WolverinePatch("/api/orders/{id}/cancel")]
    [ProducesResponseType<ProblemDetails>(StatusCodes.Status404NotFound, "application/problem+json")]
    [ProducesResponseType<ProblemDetails>(StatusCodes.Status409Conflict, "application/problem+json")]
    public static (OrderResponse, Events, OrderEvent) Patch([WriteAggregate] Order order, TimeProvider clock)
    {
        var cancelled = OrderDecisions.Cancel(clock.GetUtcNow());
        var after = order.Apply(cancelled);
        var (stored, published) = LoggedEvent.Next(cancelled, before: order, after);
        return (OrderResponse.From(after), [stored], published);
    }
}
