using Marten;
using OrderEvents.Features.Orders;
using OrderEvents.Infrastructure.Telemetry;
using Wolverine.Marten;

namespace OrderEvents.Features.Notifications;

/// <summary>
/// Turns each order event (from Kafka, or the local durable queue when Kafka is disabled) into one notification.
/// </summary>
public static class NotifyUserHandler
{
    /// <summary>An event that cannot be attributed (no event id, no order, no user) is poison: it goes to the DLQ.</summary>
    public static void Validate(OrderEvent orderEvent)
    {
        if (orderEvent.EventId == Guid.Empty || orderEvent.OrderId <= 0 || orderEvent.UserId <= 0)
            throw new InvalidOrderEventException(
                $"Order event {orderEvent.EventId} needs a non-empty eventId and positive orderId and userId (got order {orderEvent.OrderId}, user {orderEvent.UserId})");
    }

    public static Task<Notification?> LoadAsync(OrderEvent orderEvent, IQuerySession session, CancellationToken cancellationToken) =>
        session.LoadAsync<Notification>(orderEvent.EventId, cancellationToken);

    public static IMartenOp Handle(OrderEvent orderEvent, Notification? existing, TimeProvider clock, ILogger logger)
    {
        if (existing is not null)
        {
            logger.LogDebug("Event {EventId} was already turned into a notification; skipping the redelivery", orderEvent.EventId);
            return MartenOps.Nothing();
        }

        if (Notification.MessageFor(orderEvent) is not { } message)
        {
            logger.LogWarning("Skipping event {EventId} of unknown type {EventType} for order {OrderId}",
                orderEvent.EventId, orderEvent.EventType, orderEvent.OrderId);
            return MartenOps.Nothing();
        }

        OrderEventsMetrics.NotificationStored(orderEvent.EventType, orderEvent.Timestamp, clock.GetUtcNow());
        return MartenOps.Insert(new Notification
        {
            Id = orderEvent.EventId,
            UserId = orderEvent.UserId,
            Type = orderEvent.EventType,
            Message = message,
            OrderId = orderEvent.OrderId,
            CreatedAt = clock.GetUtcNow(),
        });
    }
}

public sealed class InvalidOrderEventException(string message) : Exception(message);
