using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using OrderEvents.Features.Orders;
using OrderEvents.Infrastructure.Telemetry;

namespace OrderEvents.Features.Notifications;

/// <summary>
/// Turns order events (from Kafka, or the local durable queue when Kafka is disabled) into notifications, a batch at a
/// time: Wolverine collects the events that arrive within a few milliseconds (NotificationsModule) and hands them here
/// as one array, so a burst costs one statement and one commit per batch instead of per event. Each event is already
/// in Wolverine's durable inbox and is marked handled only after this batch committed, so a crash here loses nothing:
/// the inbox hands the events out again. An event that cannot be attributed never gets here: <see cref="OrderEvent"/>
/// refuses to deserialize it, and Wolverine dead-letters that record on its own.
/// </summary>
public static class NotifyUsersHandler
{
    /// <summary>
    /// One idempotent insert keyed by the event id: a redelivery, a replay, a duplicate inside the batch, or a twin
    /// racing this one in another node is resolved by the primary key itself ("on conflict do nothing"), with no read
    /// before the write. Rows go in ordered by user, then by arrival: each user's positions follow the order of their
    /// events, and two batches racing on two nodes take the per-user position locks (see the AddNotificationPosition
    /// migration) in the same order, so they cannot deadlock. It runs in Wolverine's EF Core transaction (the chain
    /// uses only the notifications' DbContext, so AutoApplyTransactions gives it EF Core's middleware). The batch's
    /// events are marked handled in the inbox right after that commit, by the durable receiver: Wolverine 6.62's
    /// middleware marks in the transaction only the envelope being handled, here the batch itself, which lives in
    /// memory (its update finds no row).
    /// </summary>
    public static async Task Handle(OrderEvent[] events, NotificationsDbContext db, TimeProvider clock, ILogger logger, CancellationToken cancellationToken)
    {
        // Each event's own trace ends at its receive span (which continues the producer's); the batch is a trace of its own.
        Activity.Current?.SetTag("messaging.batch.message_count", events.Length);
        var known = new List<(OrderEvent Event, string Message)>(events.Length);
        foreach (var orderEvent in events)
        {
            if (Notification.MessageFor(orderEvent) is { } message)
            {
                known.Add((orderEvent, message));
                continue;
            }

            using (logger.BeginScope(new Dictionary<string, object> { ["orderId"] = orderEvent.OrderId, ["eventId"] = orderEvent.EventId }))
                logger.LogWarning("Skipping event {EventId} of unknown type {EventType} for order {OrderId}",
                    orderEvent.EventId, orderEvent.EventType, orderEvent.OrderId);
        }

        if (known.Count == 0) return;

        var ids = known.Select(x => x.Event.EventId).ToArray();
        var users = known.Select(x => x.Event.UserId).ToArray();
        var types = known.Select(x => x.Event.EventType).ToArray();
        var messages = known.Select(x => x.Message).ToArray();
        var orders = known.Select(x => x.Event.OrderId).ToArray();
        var now = clock.GetUtcNow();
        var inserted = await db.Database.SqlQuery<Guid>($"""
            insert into notifications.notifications (id, user_id, type, message, order_id, created_at)
            select e.id, e.user_id, e.type, e.message, e.order_id, {now}
              from unnest({ids}, {users}, {types}, {messages}, {orders}) with ordinality as e(id, user_id, type, message, order_id, arrival)
             order by e.user_id, e.arrival
            on conflict (id) do nothing
            returning id as "Value"
            """).ToListAsync(cancellationToken);

        if (inserted.Count < known.Count)
            logger.LogDebug("{Skipped} of {Count} events were already turned into notifications (redeliveries)", known.Count - inserted.Count, known.Count);
        var stored = inserted.ToHashSet();
        foreach (var (orderEvent, _) in known)
            if (stored.Remove(orderEvent.EventId)) OrderEventsMetrics.NotificationStored(orderEvent.EventType, orderEvent.Timestamp, now);
    }
}
