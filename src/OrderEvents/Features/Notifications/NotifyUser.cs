using Microsoft.EntityFrameworkCore;
using Npgsql;
using OrderEvents.Features.Orders;
using Wolverine.Attributes;
using Wolverine.ErrorHandling;
using Wolverine.Runtime.Handlers;
using OrderEvents.Infrastructure.Telemetry;

namespace OrderEvents.Features.Notifications;

/// <summary>
/// Turns each order event (from Kafka, or the local durable queue when Kafka is disabled) into one notification.
/// </summary>
public static class NotifyUserHandler
{
    /// <summary>
    /// Wolverine's EF Core transaction records each handled envelope in its inbox table, in the same commit as the
    /// notification. A record whose envelope id is already there (Kafka redelivered it, or an outside producer sent
    /// the same bytes again) was therefore handled and committed before: drop it instead of retrying it forever.
    /// Only that primary key qualifies; every other database error keeps the outage policy (retry, then pause).
    /// </summary>
    public static void Configure(HandlerChain chain) =>
        chain.OnException<DbUpdateException>(exception =>
                exception.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation } unique
                && unique.TableName == "wolverine_incoming_envelopes")
            .Discard();

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
    /// exception rule that could hide other failures.
    /// </summary>
    [Transactional(typeof(NotificationsDbContext))]
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
