using JasperFx.Events;
using Microsoft.AspNetCore.Mvc;
using OrderEvents.Infrastructure.Http;
using Wolverine.Http;

namespace OrderEvents.Features.Orders;

/// <summary>
/// What may happen to an order, as pure functions of its current state (no I/O, unit-tested on their own).
/// The only transitions are PENDING -> PAID and PENDING -> CANCELLED.
/// </summary>
public static class OrderDecisions
{
    /// <summary>Someone else's order is reported as missing (404, never 403), so ids reveal nothing.</summary>
    public static ProblemDetails MustBeOwnedBy(Order order, long userId) =>
        order.UserId == userId ? WolverineContinue.NoProblems : Validation.NotFound($"Order {order.Id} does not exist.");

    /// <summary>404 for someone else's order; 409 for anything but a PENDING order, naming the status it has.</summary>
    public static ProblemDetails MayMove(Order order, long userId, OrderStatus next) =>
        MustBeOwnedBy(order, userId) is var notYours && notYours != WolverineContinue.NoProblems ? notYours
        : order.Status == OrderStatus.Pending ? WolverineContinue.NoProblems
        : Validation.Conflict($"Order {order.Id} is {order.Status.ToString().ToUpperInvariant()}; only a PENDING order can become {next.ToString().ToUpperInvariant()}.");

    public static OrderPaid Pay(Order order, DateTimeOffset now) => new(order.TotalAmount, now);

    public static OrderCancelled Cancel(DateTimeOffset now) => new(now);
}

/// <summary>
/// One event id for the stored event, the Kafka record and the notification: the event is appended with the id
/// its <see cref="OrderEvent"/> carries, so a replay from the log republishes the very same id.
/// </summary>
public static class LoggedEvent
{
    public static (IEvent Stored, OrderEvent Published) Of<T>(T data, Order after) where T : notnull, IOrderEvent
    {
        var published = OrderEvent.For(after, data, Guid.CreateVersion7());
        return (new Event<T>(data) { Id = published.EventId }, published);
    }
}
