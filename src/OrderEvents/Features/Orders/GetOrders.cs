using Marten;

namespace OrderEvents.Features.Orders;

public static class GetOrdersEndpoint
{
    /// <summary>
    /// My orders, newest first (ties by id), and my total: one round trip whose count and page ids read only the index
    /// on (user_id, created_at, order_id) (OrdersModule), so a page costs the same at any depth of a user's history.
    /// </summary>
    [WolverineGet("/api/orders")]
    public static async Task<Page<OrderResponse>> List(ClaimsPrincipal user, IQuerySession session, int? page, int? pageSize, CancellationToken cancellationToken)
    {
        var userId = user.UserId();
        var paging = Paging.From(page, pageSize);
        var table = session.DocumentStore.Options.FindOrResolveDocumentType(typeof(Order)).TableName.QualifiedName;
        var batch = session.CreateBatchQuery();
        var total = batch.Query<Order>().Count(order => order.UserId == userId);
        var orders = batch.Query<Order>($"""
            where d.id in (select id from {table} where user_id = ? order by created_at desc, order_id desc offset ? limit ?)
            order by d.created_at desc, d.order_id desc
            """, userId, paging.Skip, paging.PageSize);
        await batch.Execute(cancellationToken);
        return new Page<OrderResponse>((await orders).Select(OrderResponse.From).ToList(), paging.Page, paging.PageSize, await total);
    }
}

/// <summary>One entry of an order's history: a stored event, in stream order.</summary>
public sealed record OrderHistoryEntry(
    Guid EventId, string EventType, DateTimeOffset Timestamp, long Version, decimal TotalAmount, IReadOnlyList<OrderItem>? Items);

/// <summary>An order and its history; the ownership check applies to both endpoints.</summary>
public static class GetOrderEndpoint
{
    public static ProblemDetails Validate(Order order, ClaimsPrincipal user) => OrderDecisions.MustBeOwnedBy(order, user.UserId());

    /// <summary>404 when the order does not exist or is someone else's.</summary>
    [WolverineGet("/api/orders/{id}")]
    [NonTransactional]
    [ProducesResponseType<ProblemDetails>(StatusCodes.Status404NotFound, "application/problem+json")]
    public static OrderResponse Get([ReadAggregate] Order order) => OrderResponse.From(order);

    /// <summary>The order's events, oldest first, as stored in its stream (owner only; 404 otherwise).</summary>
    [WolverineGet("/api/orders/{id}/events")]
    [NonTransactional]
    [ProducesResponseType<ProblemDetails>(StatusCodes.Status404NotFound, "application/problem+json")]
    public static async Task<IReadOnlyList<OrderHistoryEntry>> GetHistory(
        [ReadAggregate] Order order, IQuerySession session, CancellationToken cancellationToken)
    {
        var history = new List<OrderHistoryEntry>();
        foreach (var stored in await session.Events.FetchStreamAsync(order.StreamKey, token: cancellationToken))
        {
            if (stored.Data is not IOrderEvent logged) continue;
            var record = OrderEvent.For(order, logged, stored.Id, stored.Version);
            history.Add(new OrderHistoryEntry(
                record.EventId, record.EventType, record.Timestamp, stored.Version, record.TotalAmount, (logged as OrderPlaced)?.Items));
        }

        return history;
    }
}
