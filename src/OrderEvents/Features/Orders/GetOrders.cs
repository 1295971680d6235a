using System.Security.Claims;
using Marten;
using OrderEvents.Infrastructure.Auth;
using OrderEvents.Infrastructure.Http;
using Wolverine.Http;

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

    /// <summary>Someone else's order is reported as missing (404, never 403), so ids reveal nothing.</summary>
    [WolverineGet("/api/orders/{id}")]
    public static async Task<IResult> GetOne(long id, ClaimsPrincipal user, IQuerySession session, CancellationToken cancellationToken) =>
        await session.LoadAsync<Order>(id, cancellationToken) is { } order && order.UserId == user.UserId()
            ? Results.Ok(OrderResponse.From(order))
            : Results.Problem(Validation.NotFound($"Order {id} does not exist."));
}
