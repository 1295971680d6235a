using System.Diagnostics;
using Marten;
using Microsoft.EntityFrameworkCore;
using OrderEvents.Infrastructure.Telemetry;

namespace OrderEvents.Features.Notifications;

/// <summary>
/// Turns order events (from Kafka, or the local durable queue when Kafka is off) into notifications, one statement and
/// one commit per batch (batching: NotificationsModule). The events stay in Wolverine's durable inbox until the batch
/// committed, so a crash loses nothing. A record that cannot be attributed never gets here: <see cref="OrderEvent"/>
/// refuses to deserialize it and Wolverine dead-letters it.
/// <para>
/// Per order, a notification never runs ahead of its predecessors: version v is stored only once 1 … v-1 are (or come
/// sorted before it in the batch). Records arrive out of order only after a failure (outbox recovery, a re-drive);
/// then the missing predecessors are read from the order log and stored first, with the log's event ids, so the late
/// records are absorbed later by the primary key.
/// </para>
/// </summary>
public static partial class NotifyUsersHandler
{
    /// <summary>
    /// Runs in Wolverine's EF Core transaction (the chain uses only this DbContext). Redeliveries, replays and twins on
    /// another node are absorbed by the primary key ("on conflict do nothing"), with no read before the write. Rows go
    /// in by user, order and version: positions follow versions, and racing batches take the per-user position locks
    /// in the same order, so they cannot deadlock. The inbox marks the batch's events handled after the commit
    /// (Wolverine 6.62 marks in the transaction only the batch envelope, which lives in memory). A batch PostgreSQL
    /// failed runs again and sets the records it refuses aside: <see cref="StoreSettingRefusedRecordsAsideAsync"/>.
    /// </summary>
    public static async Task Handle(
        OrderEvent[] events, NotificationsDbContext db, IDocumentStore orderLog, IMessageContext messaging, IWolverineRuntime runtime,
        TimeProvider clock, ILogger logger, CancellationToken cancellationToken)
    {
        // The batch is a trace of its own, linked to each record's, so an order's trace leads to the batch that stored it.
        var records = NotificationBatcher.MembersOf(events);
        var span = WolverineTracing.MessageActivity(messaging.Envelope);
        span?.SetTag("messaging.batch.message_count", events.Length);
        LinkToEventTraces(span, records);

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

    /// <summary>Links the batch span to the context each record carried: the span that published it, in the order's trace.</summary>
    private static void LinkToEventTraces(Activity? span, IReadOnlyList<Envelope> records)
    {
        if (span is null) return;
        foreach (var record in records)
            if (record.ParentId is { } parent && ActivityContext.TryParse(parent, null, out var context))
                span.AddLink(new ActivityLink(context));
    }

    /// <summary>The fast path, and the slow path when an event would run ahead of its predecessors: the rows it stored.</summary>
    private static async Task<List<NotificationRow>> StoreAsync(
        NotificationsDbContext db, IDocumentStore orderLog, IReadOnlyList<NotificationRow> rows, DateTimeOffset now, ILogger logger, CancellationToken cancellationToken)
    {
        var outcome = await InsertAsync(db, rows, now, holdBackGaps: true, cancellationToken);
        IReadOnlyList<NotificationRow> candidates = rows;
        if (outcome.Any(row => !row.Stored))
        {
            var heldBack = outcome.Where(row => !row.Stored).Select(row => row.Id).ToHashSet();
            var predecessors = await MissingPredecessorsAsync(db, orderLog, rows.Where(row => heldBack.Contains(row.Event.EventId)).ToList(), logger, cancellationToken);
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
    /// event would run ahead of its order's predecessors, and says which would. Ready: no version (another producer's
    /// record), at or below the order's highest notified version (a late duplicate), or the k-th of the batch's
    /// versions above it is that highest + k (dense_rank). If any is held back nothing is inserted: the slow path
    /// inserts the log's predecessors and the batch in one sorted statement too, with the check off.
    /// <para>
    /// Two nodes racing on one order (a rebalance) need no extra lock: every insert takes its user's position lock in
    /// its BEFORE trigger, ahead of the key check, and holds it to commit, so the loser waits, finds the id taken and
    /// draws later positions. Either way an order's positions follow its versions and each event is stored once.
    /// </para>
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
    /// The held-back events' logged predecessors, with the log's ids and versions, minus dead-lettered ones (their
    /// refusal would come back with every later event). A record the log does not know is stored as is, after what the
    /// log holds, with a warning: the partition is never blocked.
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
