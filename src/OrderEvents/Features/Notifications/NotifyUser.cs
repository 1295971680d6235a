using Microsoft.EntityFrameworkCore;
using OrderEvents.Features.Orders;
using Wolverine.Attributes;
using OrderEvents.Infrastructure.Telemetry;

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

    /// <summary>
    /// One idempotent insert keyed by the event id: a redelivery, a replay, or a twin racing this one in another
    /// node is resolved by the primary key itself ("on conflict do nothing"), with no read before the write and no
    /// exception rule that could hide other failures. That single statement is the whole transaction, so no store
    /// wraps this chain in one ([NonTransactional]; with both Marten and EF Core registered each chain must say).
    /// Wolverine's EF transaction would add an inbox row per record, in the same commit: a redelivered record then
    /// failed on that row's key, and discarding it left the Kafka offset committer waiting for it forever (after a
    /// rebalance a partition's committed offset stayed behind), besides a second insert and a cleanup per record.
    /// </summary>
    [NonTransactional]
    public static async Task Handle(OrderEvent orderEvent, NotificationsDbContext db, TimeProvider clock, ILogger logger, CancellationToken cancellationToken)
    {
        if (Notification.MessageFor(orderEvent) is not { } message)
        {
            logger.LogWarning("Skipping event {EventId} of unknown type {EventType} for order {OrderId}",
                orderEvent.EventId, orderEvent.EventType, orderEvent.OrderId);
            return;
        }

        var inserted = await db.Database.ExecuteSqlAsync($"""
            insert into notifications.notifications (id, user_id, type, message, order_id, created_at)
            values ({orderEvent.EventId}, {orderEvent.UserId}, {orderEvent.EventType}, {message}, {orderEvent.OrderId}, {clock.GetUtcNow()})
            on conflict (id) do nothing
            """, cancellationToken);
        if (inserted == 0)
            logger.LogDebug("Event {EventId} was already turned into a notification; skipping the redelivery", orderEvent.EventId);
        else
            OrderEventsMetrics.NotificationStored(orderEvent.EventType, orderEvent.Timestamp, clock.GetUtcNow());
    }
}

public sealed class InvalidOrderEventException(string message) : Exception(message);
