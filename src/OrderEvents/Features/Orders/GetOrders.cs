using System.Security.Claims;
using Marten;
using Microsoft.AspNetCore.Mvc;
using OrderEvents.Infrastructure.Auth;
using OrderEvents.Infrastructure.Http;
using Wolverine.Http;
using Wolverine.Marten;
using Wolverine.Attributes;

namespace OrderEvents.Features.Orders;

public static class GetOrdersEndpoint
{
    [WolverineGet("/api/orders")]
    public static Task<Page<OrderResponse>> List(ClaimsPrincipal user, IQuerySession session, int? page, int? pageSize, CancellationToken cancellationToken)
    {
        var userId = user.UserId();
        return session.Query<Order>()
            .Where(order => order.UserId == userId)
            .OrderByDescending(order => order.CreatedAt).ThenByDescending(order => order.Id)
            .ToPageAsync(page, pageSize, OrderResponse.From, cancellationToken);
    }
}

public static class GetOrderEndpoint
{
    public static ProblemDetails Validate(Order order, ClaimsPrincipal user) => OrderDecisions.MustBeOwnedBy(order, user.UserId());

    /// <summary>404 when the order does not exist or is someone else's.</summary>
    [WolverineGet("/api/orders/{id}")]
    [NonTransactional]
    [ProducesResponseType<ProblemDetails>(StatusCodes.Status404NotFound, "application/problem+json")]
    public static OrderResponse Get([ReadAggregate] Order order) => OrderResponse.From(order);
}

/// <summary>One entry of an order's history: a stored event, in stream order.</summary>
public sealed record OrderHistoryEntry(
    Guid EventId, string EventType, DateTimeOffset Timestamp, long Version, decimal TotalAmount, IReadOnlyList<OrderItem>? Items);

public static class GetOrderHistoryEndpoint
{
    public static ProblemDetails Validate(Order order, ClaimsPrincipal user) => OrderDecisions.MustBeOwnedBy(order, user.UserId());

    /// <summary>The order's events, oldest first, as stored in its stream (owner only; 404 otherwise).</summary>
    [WolverineGet("/api/orders/{id}/events")]
    [NonTransactional]
    [ProducesResponseType<ProblemDetails>(StatusCodes.Status404NotFound, "application/problem+json")]
    public static async Task<IReadOnlyList<OrderHistoryEntry>> Get([ReadAggregate] Order order, IQuerySession session, CancellationToken cancellationToken)
    {
        var events = await session.Events.FetchStreamAsync(order.StreamKey, token: cancellationToken);
        return events
            .Where(stored => stored.Data is IOrderEvent)
            .Select(stored =>
            {
                var logged = (IOrderEvent)stored.Data;
                var record = OrderEvent.For(order, logged, stored.Id, stored.Version);
                return new OrderHistoryEntry(record.EventId, record.EventType, record.Timestamp, stored.Version, record.TotalAmount,
                    logged is OrderPlaced placed ? placed.Items : null);
            })
            .ToList();
    }
}
