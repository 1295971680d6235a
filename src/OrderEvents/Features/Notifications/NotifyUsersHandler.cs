using System.Diagnostics;
using Marten;
using Microsoft.EntityFrameworkCore;
using OrderEvents.Infrastructure.Telemetry;

namespace OrderEvents.Features.Notifications;

/// <summary>
/// Turns order events into notifications, one statement and one commit per batch; the events stay in the durable inbox
/// until it committed. Per order, version v is stored only after 1 … v-1: a record arriving early (after a failure)
/// has its missing predecessors read from the order log and stored first (docs/architecture.md).
/// </summary>
public static partial class NotifyUsersHandler
{
    /// <summary>
    /// Runs in Wolverine's EF Core transaction; the primary key absorbs redeliveries, replays and twins. Rows go in by
    /// user, order and version, so racing batches take the per-user position locks in one order and cannot deadlock.
    /// A batch PostgreSQL failed runs again setting refused records aside (<see cref="StoreSettingRefusedRecordsAsideAsync"/>).
    /// </summary>
    public static async Task Handle(
        OrderEvent[] events, NotificationsDbContext db, IDocumentStore orderLog, IMessageContext messaging, IWolverineRuntime runtime,
        TimeProvider clock, ILogger logger, CancellationToken cancellationToken)
    {
        // The batch is a trace of its own, linked to each record's, so an order's trace leads to the batch that stored it.
        var records = NotificationBatcher.MembersOf(events);
        var span = WolverineTracing.MessageActivity(messaging.Envelope);
        span?.SetTag("messaging.batch.message_count", events.Length);
        // Each link is the context its record carried: the span that published it, in the order's trace.
        if (span is not null)
            foreach (var record in records)
                if (record.ParentId is { } parent && ActivityContext.TryParse(parent, null, out var context))
                    span.AddLink(new ActivityLink(context));

        var known = new List<NotificationRow>(events.Length);
        for (var i = 0; i < events.Length; i++)
        {
            var orderEvent = events[i];
            if (Notification.MessageFor(orderEvent) is { } message)
            {
                known.Add(new NotificationRow(orderEvent, message, records.Count == events.Length ? records[i] : null));
                continue;
            }

            using (ScopeFor(logger, orderEvent))
                logger.LogWarning("Skipping event {EventId} of unknown type {EventType} for order {OrderId}",
                    orderEvent.EventId, orderEvent.EventType, orderEvent.OrderId);
        }

        if (known.Count == 0) return;

        var now = clock.GetUtcNow();
        var stored = messaging.Envelope is { Attempts: > 1 }
            ? await StoreSettingRefusedRecordsAsideAsync(db, orderLog, messaging, runtime, known, now, logger, cancellationToken)
            : await StoreAsync(db, orderLog, known, now, logger, cancellationToken);
        foreach (var row in stored) OrderEventsMetrics.NotificationStored(row.Event.EventType, row.Event.Timestamp, now);
    }

    /// <summary>
    /// The fast path, and the slow path when an event would run ahead of its predecessors: the rows it stored. After a
    /// refusal (<paramref name="leaveRefusedPredecessorsOut"/>) a predecessor PostgreSQL refuses is left out, not stored.
    /// </summary>
    private static async Task<List<NotificationRow>> StoreAsync(
        NotificationsDbContext db, IDocumentStore orderLog, IReadOnlyList<NotificationRow> rows, DateTimeOffset now, ILogger logger, CancellationToken cancellationToken,
        bool leaveRefusedPredecessorsOut = false)
    {
        var outcome = await InsertAsync(db, rows, now, holdBackGaps: true, cancellationToken);
        IReadOnlyList<NotificationRow> candidates = rows;
        if (outcome.Any(row => !row.Stored))
        {
            var heldBack = outcome.Where(row => !row.Stored).Select(row => row.Id).ToHashSet();
            var predecessors = await MissingPredecessorsAsync(db, orderLog, rows.Where(row => heldBack.Contains(row.Event.EventId)).ToList(), logger, cancellationToken);
            if (leaveRefusedPredecessorsOut) predecessors = await WithoutRefusedAsync(db, predecessors, now, logger, cancellationToken);
            candidates = [.. predecessors, .. rows];
            outcome = await InsertAsync(db, candidates, now, holdBackGaps: false, cancellationToken);
        }

        var inserted = outcome.Where(row => row.Stored).Select(row => row.Id).ToHashSet();
        if (inserted.Count < candidates.Count)
            logger.LogDebug("{Skipped} of {Count} events were already turned into notifications (redeliveries)", candidates.Count - inserted.Count, candidates.Count);
        return candidates.Where(row => inserted.Remove(row.Event.EventId)).ToList();
    }

    /// <summary>
    /// One round trip: inserts the rows sorted by user, order and version, unless (<paramref name="holdBackGaps"/>) an
    /// event would run ahead of its order's predecessors; then nothing is inserted and the answer says which. Ready: no
    /// version (another producer's record), at or below the order's highest notified version (a late duplicate), or the
    /// k-th of the batch's versions above it is that highest + k (dense_rank).
    /// </summary>
    private static async Task<List<StoredOrHeld>> InsertAsync(
        NotificationsDbContext db, IReadOnlyList<NotificationRow> rows, DateTimeOffset now, bool holdBackGaps, CancellationToken cancellationToken)
    {
        var ids = rows.Select(row => row.Event.EventId).ToArray();
        var users = rows.Select(row => row.Event.UserId).ToArray();
        var types = rows.Select(row => row.Event.EventType).ToArray();
        var messages = rows.Select(row => row.Message).ToArray();
        var orders = rows.Select(row => row.Event.OrderId).ToArray();
        var versions = rows.Select(row => row.Event.Version).ToArray();
        return await EntityFrameworkQueryableExtensions.ToListAsync(db.Database.SqlQuery<StoredOrHeld>($"""
            with batch as (
              select * from unnest({ids}, {users}, {types}, {messages}, {orders}, {versions})
                with ordinality as e(id, user_id, type, message, order_id, version, arrival)
            ), notified as materialized (
              select o.order_id,
                     coalesce((select max(n.version) from notifications.notifications n where n.order_id = o.order_id), 0) as version
                from (select distinct order_id from batch where {holdBackGaps} and version > 1) o
            ), held as (
              select r.arrival
                from (select b.arrival, b.version, n.version as notified,
                             dense_rank() over (partition by b.order_id order by b.version) as step
                        from batch b join notified n on n.order_id = b.order_id
                       where b.version > n.version) r
               where r.version <> r.notified + r.step
            ), stored as (
              insert into notifications.notifications (id, user_id, type, message, order_id, version, created_at)
              select b.id, b.user_id, b.type, b.message, b.order_id, b.version, {now}
                from batch b
               where not exists (select from held)
               order by b.user_id, b.order_id, b.version nulls first, b.arrival
              on conflict (id) do nothing
              returning id
            )
            select id as "Id", true as "Stored" from stored
            union all
            select b.id, false from batch b join held h on h.arrival = b.arrival
            """), cancellationToken);
    }

    /// <summary>
    /// The held-back events' logged predecessors, minus dead-lettered ones (their refusal would come back with every
    /// later event). A record the log does not know is stored as is, with a warning: the partition is never blocked.
    /// </summary>
    private static async Task<List<NotificationRow>> MissingPredecessorsAsync(
        NotificationsDbContext db, IDocumentStore orderLog, IReadOnlyList<NotificationRow> heldBack, ILogger logger, CancellationToken cancellationToken)
    {
        var highestHeld = heldBack.GroupBy(row => row.Event.OrderId).ToDictionary(g => g.Key, g => g.Max(row => row.Event.Version!.Value));
        var orderIds = highestHeld.Keys.ToArray();
        var deadLettered = (await EntityFrameworkQueryableExtensions.ToListAsync(
            db.DeadLetteredEvents.Where(dead => orderIds.Contains(dead.OrderId)).Select(dead => dead.EventId), cancellationToken)).ToHashSet();
        var keys = orderIds.Select(Order.StreamKeyOf).ToArray();
        await using var session = orderLog.QuerySession();
        var orders = (await session.LoadManyAsync<Order>(cancellationToken, keys)).ToDictionary(order => order.Id);
        var logged = await Marten.QueryableExtensions.ToListAsync(session.Events.QueryAllRawEvents()
            .Where(stored => keys.Contains(stored.StreamKey!))
            .OrderBy(stored => stored.Sequence), cancellationToken);

        var predecessors = new List<NotificationRow>();
        foreach (var stored in logged)
        {
            if (stored.Data is not IOrderEvent data || !orders.TryGetValue(long.Parse(stored.StreamKey!), out var order)) continue;
            if (stored.Version >= highestHeld[order.Id] || deadLettered.Contains(stored.Id)) continue;
            var record = OrderEvent.For(order, data, stored.Id, stored.Version);
            predecessors.Add(new NotificationRow(record, Notification.MessageFor(record)!, Record: null));
        }

        var loggedIds = logged.Select(stored => stored.Id).ToHashSet();
        foreach (var row in heldBack)
        {
            var orderEvent = row.Event;
            var before = predecessors.Count(p => p.Event.OrderId == orderEvent.OrderId && p.Event.Version < orderEvent.Version);
            var skipped = logged.Count(stored => deadLettered.Contains(stored.Id) && stored.StreamKey == Order.StreamKeyOf(orderEvent.OrderId) && stored.Version < orderEvent.Version);
            using (ScopeFor(logger, orderEvent))
            {
                if (loggedIds.Contains(orderEvent.EventId))
                    logger.LogInformation(
                        "Event {EventId} (version {Version} of order {OrderId}) arrived before its predecessors: storing the {Count} earlier events from the order log first ({Skipped} dead-lettered, skipped)",
                        orderEvent.EventId, orderEvent.Version, orderEvent.OrderId, before, skipped);
                else
                    logger.LogWarning(
                        "Event {EventId} (version {Version} of order {OrderId}) is not in the order log and its predecessors are missing; stored as is after the {Count} earlier events the log holds ({Skipped} dead-lettered, skipped)",
                        orderEvent.EventId, orderEvent.Version, orderEvent.OrderId, before, skipped);
            }
        }

        return predecessors;
    }

    private static IDisposable? ScopeFor(ILogger logger, OrderEvent orderEvent) =>
        logger.BeginScope(new Dictionary<string, object> { ["orderId"] = orderEvent.OrderId, ["eventId"] = orderEvent.EventId });

    /// <summary>An event to store, its text, and the record it arrived in (null for a predecessor read from the log).</summary>
    private sealed record NotificationRow(OrderEvent Event, string Message, Envelope? Record);

    /// <summary>A row of <see cref="InsertAsync"/>'s answer: stored now, or held back behind a missing predecessor.</summary>
    private sealed record StoredOrHeld(Guid Id, bool Stored);
}
