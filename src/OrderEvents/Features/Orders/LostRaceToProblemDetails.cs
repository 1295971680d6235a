using JasperFx;
using Marten;
using Microsoft.AspNetCore.Diagnostics;

namespace OrderEvents.Features.Orders;

/// <summary>
/// The loser of two racing pay/cancel requests fails at commit, after its status check passed: its 409 names the
/// status the winner left, like the 409 of an ordinary invalid transition.
/// </summary>
public sealed class LostRaceToProblemDetails(IProblemDetailsService problemDetails, IDocumentStore store) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not ConcurrencyException
            || !context.Request.Path.StartsWithSegments("/api/orders")
            // The exception-handling pipeline clears the route values; the feature keeps the original ones.
            || !long.TryParse(context.Features.Get<IExceptionHandlerFeature>()?.RouteValues?["id"]?.ToString(), out var id))
            return false;

        await using var session = store.QuerySession();
        if (await session.LoadAsync<Order>(Order.StreamKeyOf(id), cancellationToken) is not { } order) return false;

        return await problemDetails.WriteAsync(context, exception, Validation.Conflict(
            $"Order {id} was changed by a concurrent request and is now {order.Status.ToString().ToUpperInvariant()}; only a PENDING order can change."));
    }
}
