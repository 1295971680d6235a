using System.Security.Claims;
using Marten;
using Microsoft.AspNetCore.Mvc;
using OrderEvents.Infrastructure.Auth;
using OrderEvents.Infrastructure.Http;
using Wolverine.Http;
using Wolverine.Marten;

namespace OrderEvents.Features.Orders;

/// <summary>
/// PENDING -> PAID and PENDING -> CANCELLED. The order is loaded in the request's own session, so Marten's
/// optimistic concurrency turns the loser of two racing requests into a 409 and its event is never committed.
/// </summary>
public static class OrderTransition
{
    public static async Task<Order?> LoadOwnOrder(long id, ClaimsPrincipal user, IDocumentSession session) =>
        await session.LoadAsync<Order>(id) is { } order && order.UserId == user.UserId() ? order : null;

    public static ProblemDetails Check(long id, Order? order, OrderStatus next) => order switch
    {
        null => Validation.NotFound($"Order {id} does not exist."),
        _ when !order.CanMoveTo(next) => Validation.Conflict(
            $"Order {id} is {order.Status.ToString().ToUpperInvariant()}; only a PENDING order can become {next.ToString().ToUpperInvariant()}."),
        _ => WolverineContinue.NoProblems,
    };

    public static (OrderResponse, IMartenOp, OrderEvent) Apply(Order order, OrderStatus next, TimeProvider clock)
    {
        var changed = order.MovedTo(next, clock.GetUtcNow());
        return (OrderResponse.From(changed), MartenOps.Store(changed), OrderEvent.For(changed, OrderEventTypes.For(next)));
    }
}

public static class PayOrderEndpoint
{
    public static Task<Order?> LoadAsync(long id, ClaimsPrincipal user, IDocumentSession session) => OrderTransition.LoadOwnOrder(id, user, session);

    public static ProblemDetails Validate(long id, Order? order) => OrderTransition.Check(id, order, OrderStatus.Paid);

    [WolverinePatch("/api/orders/{id}/pay")]
    public static (OrderResponse, IMartenOp, OrderEvent) Patch([NotBody] Order order, TimeProvider clock) => OrderTransition.Apply(order, OrderStatus.Paid, clock);
}

public static class CancelOrderEndpoint
{
    public static Task<Order?> LoadAsync(long id, ClaimsPrincipal user, IDocumentSession session) => OrderTransition.LoadOwnOrder(id, user, session);

    public static ProblemDetails Validate(long id, Order? order) => OrderTransition.Check(id, order, OrderStatus.Cancelled);

    [WolverinePatch("/api/orders/{id}/cancel")]
    public static (OrderResponse, IMartenOp, OrderEvent) Patch([NotBody] Order order, TimeProvider clock) => OrderTransition.Apply(order, OrderStatus.Cancelled, clock);
}
