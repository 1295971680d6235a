using System.Diagnostics;
using Marten;
using Microsoft.EntityFrameworkCore;
using OrderEvents.Features.Orders;
using OrderEvents.Infrastructure.Telemetry;
using Wolverine;
using Wolverine.Runtime;

namespace OrderEvents.Features.Notifications;

/// <summary>
/// Turns order events (from Kafka, or the local durable queue when Kafka is disabled) into notifications, a batch at a
/// time: Wolverine collects the events that arrive within a few milliseconds (NotificationsModule) and hands them here
/// as one array, so a burst costs one statement and one commit per batch instead of per event. Each event is already
/// in Wolverine's durable inbox and is marked handled only after this batch committed, so a crash here loses nothing:
/// the inbox hands the events out again. An event that cannot be attributed never gets here: <see cref="OrderEvent"/>
/// refuses to deserialize it, and Wolverine dead-letters that record on its own.
/// <para>
/// Per order, notifications never run ahead of their predecessors: an event of version v is stored only once versions
/// 1 … v-1 of its order have a notification (or come in the same batch, sorted before it). Records arrive out of order
/// only after a failure (an event recovered from a dead node's outbox, re-driven from the log or the dead-letter topic
/// behind a newer one of its order); then the missing predecessors are read from the order log and stored first, with
/// the log's event ids, so the late records are absorbed later by the primary key as duplicates.
/// </para>
/// </summary>
public static partial class NotifyUsersHandler
{
    /// <summary>
    /// Normally one statement: an idempotent insert keyed by the event id, guarded by the ordering check (see
    /// <see cref="StoreUnlessHeldBackAsync"/>). A redelivery, a replay, a duplicate inside the batch, or a twin racing
    /// this one in another node is resolved by the primary key itself ("on conflict do nothing"), with no read before
    /// the write. Rows go in ordered by user, order and version: each order's positions follow its versions, and two
    /// batches racing on two nodes take the per-user position locks (see the AddNotificationPosition migration) in the
    /// same order, so they cannot deadlock. It runs in Wolverine's EF Core transaction (the chain uses only the
    /// notifications' DbContext, so AutoApplyTransactions gives it EF Core's middleware; the order log is read through
    /// its own query session, outside that transaction). The batch's events are marked handled in the inbox right after
    /// that commit, by the durable receiver: Wolverine 6.62's middleware marks in the transaction only the envelope
    /// being handled, here the batch itself, which lives in memory (its update finds no row).
    /// A batch PostgreSQL failed runs again (MessagingSetup) and sets aside the records it refuses on their own:
    /// <see cref="StoreSettingRefusedRecordsAsideAsync"/>.
    /// </summary>
    public static async Task Handle(
        OrderEvent[] events, NotificationsDbContext db, IDocumentStore orderLog, IMessageContext messaging, IWolverineRuntime runtime,
        TimeProvider clock, ILogger logger, CancellationToken cancellationToken)
    {
        // Each event's own trace ends at its receive span (which continues the producer's); the batch is a trace of its
        // own, linked to each of them, so an order's trace leads to the batch that stored its notification.
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

            using (logger.BeginScope(new Dictionary<string, object> { ["orderId"] = orderEvent.OrderId, ["eventId"] = orderEvent.EventId }))
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
        var outcome = await StoreUnlessHeldBackAsync(db, rows, now, cancellationToken);
        var heldBack = outcome.Where(row => !row.Stored).Select(row => row.Id).ToHashSet();
        IReadOnlyList<NotificationRow> candidates = rows;
        var inserted = outcome.Where(row => row.Stored).Select(row => row.Id).ToHashSet();
        if (heldBack.Count > 0)
        {
            var predecessors = await MissingPredecessorsAsync(db, orderLog, rows.Where(row => heldBack.Contains(row.Event.EventId)).ToList(), logger, cancellationToken);
            candidates = [.. predecessors, .. rows];
            inserted = (await InsertAsync(db, candidates, now, cancellationToken)).ToHashSet();
        }

        if (inserted.Count < candidates.Count)
            logger.LogDebug("{Skipped} of {Count} events were already turned into notifications (redeliveries)", candidates.Count - inserted.Count, candidates.Count);
        return candidates.Where(row => inserted.Remove(row.Event.EventId)).ToList();
    }

    /// <summary>
    /// The normal path, one round trip: stores the whole batch unless one of its events would run ahead of its order's
    /// predecessors, and says which ones would. An event is ready when it has no version (a record from another
    /// producer: stored as before), or every version between the highest one its order already has a notification for
    /// and its own is in this batch (dense_rank over the batch's versions above that highest one: the k-th of them must
    /// be highest + k), or it is at or below that highest one (a late duplicate, absorbed by the primary key). Only
    /// orders with a version above 1 in the batch are looked up, on the (order_id, version) index. When any event is
    /// held back nothing is inserted: the slow path then inserts everything in one sorted statement, so each
    /// transaction takes its per-user position locks in one statement, in user order, as before.
    /// </summary>
    private static async Task<List<StoredOrHeld>> StoreUnlessHeldBackAsync(
        NotificationsDbContext db, IReadOnlyList<NotificationRow> rows, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var (ids, users, types, messages, orders, versions) = Columns(rows);
        return await EntityFrameworkQueryableExtensions.ToListAsync(db.Database.SqlQuery<StoredOrHeld>($"""
            with batch as (
              select * from unnest({ids}, {users}, {types}, {messages}, {orders}, {versions})
                with ordinality as e(id, user_id, type, message, order_id, version, arrival)
            ), notified as materialized (
              select o.order_id,
                     coalesce((select max(n.version) from notifications.notifications n where n.order_id = o.order_id), 0) as version
                from (select distinct order_id from batch where version > 1) o
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
    /// The slow path's insert: the log's predecessors and the batch, sorted by user, order and version (a predecessor
    /// before a batch row of the same version), in the same EF Core transaction.
    /// <para>
    /// Two nodes racing on one order (a rebalance hands a partition over while the old owner still works through its
    /// records) need no extra lock: every insert takes its user's position lock in its BEFORE trigger, ahead of the
    /// primary key check, and holds it to commit. If the other node stores a predecessor first, this insert waits for
    /// its commit, finds the id taken and draws the next positions after it; if this node is first, the other's insert
    /// of the same id waits and then does nothing. An event is stored by the fast path only when its predecessors were
    /// committed before that statement began, so their positions are lower. Either way an order's positions follow its
    /// versions, and each event is stored once.
    /// </para>
    /// </summary>
    private static async Task<List<Guid>> InsertAsync(
        NotificationsDbContext db, IReadOnlyList<NotificationRow> rows, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var (ids, users, types, messages, orders, versions) = Columns(rows);
        return await EntityFrameworkQueryableExtensions.ToListAsync(db.Database.SqlQuery<Guid>($"""
            insert into notifications.notifications (id, user_id, type, message, order_id, version, created_at)
            select e.id, e.user_id, e.type, e.message, e.order_id, e.version, {now}
              from unnest({ids}, {users}, {types}, {messages}, {orders}, {versions})
                with ordinality as e(id, user_id, type, message, order_id, version, arrival)
             order by e.user_id, e.order_id, e.version nulls first, e.arrival
            on conflict (id) do nothing
            returning id as "Value"
            """), cancellationToken);
    }

    /// <summary>
    /// Reads the held-back events' orders from the order log (Marten's event store, the same PostgreSQL) and returns
    /// each order's logged events below its highest held-back version, as records with the log's event ids and
    /// versions, skipping dead-lettered ones (storing them again would bring their refusal back to every later event of
    /// their order). A held-back record the log does not know (another producer's event, an order that is not in this
    /// log) is stored as is, after whatever predecessors the log holds: the partition is never blocked, and the warning
    /// names it.
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
            using (logger.BeginScope(new Dictionary<string, object> { ["orderId"] = orderEvent.OrderId, ["eventId"] = orderEvent.EventId }))
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

    private static (Guid[] Ids, long[] Users, string[] Types, string[] Messages, long[] Orders, long?[] Versions) Columns(IReadOnlyList<NotificationRow> rows) => (
        rows.Select(row => row.Event.EventId).ToArray(),
        rows.Select(row => row.Event.UserId).ToArray(),
        rows.Select(row => row.Event.EventType).ToArray(),
        rows.Select(row => row.Message).ToArray(),
        rows.Select(row => row.Event.OrderId).ToArray(),
        rows.Select(row => row.Event.Version).ToArray());

    /// <summary>An event to store, its text, and the record it arrived in (null for a predecessor read from the log).</summary>
    private sealed record NotificationRow(OrderEvent Event, string Message, Envelope? Record);
}

/// <summary>A row of the batch's first statement: stored now, or held back behind a missing predecessor.</summary>
public sealed class StoredOrHeld
{
    public Guid Id { get; set; }
    public bool Stored { get; set; }
}
