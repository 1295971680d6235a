using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Weasel.Core;
using Wolverine.Kafka;
using Wolverine.RDBMS;
using Wolverine.Transports;

namespace OrderEvents.Features.Notifications;

public static partial class NotifyUsersHandler
{
    private const string Savepoint = "notifications";
    private const string PredecessorSavepoint = "notifications_predecessor";

    /// <summary>
    /// A batch run again after PostgreSQL failed it, each step under a savepoint: the whole batch; then a control (a
    /// stored row inserted again: refused, the table is at fault and nothing is dead-lettered); then halves down to the
    /// records refused on their own, dead-lettered in this transaction (docs/operations.md#refused-notifications).
    /// </summary>
    private static async Task<List<NotificationRow>> StoreSettingRefusedRecordsAsideAsync(
        NotificationsDbContext db, Marten.IDocumentStore orderLog, IMessageContext messaging, IWolverineRuntime runtime,
        IReadOnlyList<NotificationRow> rows, DateTimeOffset now, ILogger logger, CancellationToken cancellationToken)
    {
        var transaction = db.Database.CurrentTransaction!;
        var stored = new List<NotificationRow>();
        var refused = new List<(NotificationRow Row, PostgresException Refusal)>();
        if (await TryAsync(() => StoreAllAsync(rows)) is not { } refusal) return stored;

        var users = rows.Select(row => row.Event.UserId).Distinct().ToArray();
        var controlRows = 0;
        // A WITH holding an insert must stay the statement's top level: no Single() composed into the query.
        if (await TryAsync(async () => controlRows = (await db.Database.SqlQuery<int>($"""
                with control as (
                  select id, user_id, type, message, order_id, version, created_at from notifications.notifications
                   where user_id <> all({users}) limit 1
                ), again as (
                  insert into notifications.notifications (id, user_id, type, message, order_id, version, created_at)
                  select * from control on conflict (id) do nothing
                )
                select count(*)::int as "Value" from control
                """).ToListAsync(cancellationToken)).Single(), keep: false) is { } controlRefusal)
            throw new NotificationsRefusedException(rows.Count, "it also refuses a notification it already holds", controlRefusal);

        await IsolateAsync([.. rows.OrderBy(row => row.Event.UserId).ThenBy(row => row.Event.OrderId).ThenBy(row => row.Event.Version)], refusal);
        if (controlRows == 0 && refused.Count == rows.Count)
            throw new NotificationsRefusedException(rows.Count, "every record was refused and the table holds no other user's notification to try", refusal);
        foreach (var (row, why) in refused) await DeadLetterAsync(db, messaging, runtime, row, why, logger, cancellationToken);
        return stored;

        async Task StoreAllAsync(IReadOnlyList<NotificationRow> group) =>
            stored.AddRange(await StoreAsync(db, orderLog, group, now, logger, cancellationToken, leaveRefusedPredecessorsOut: true));

        async Task IsolateAsync(List<NotificationRow> group, PostgresException groupRefusal)
        {
            if (group.Count == 1)
            {
                refused.Add((group[0], groupRefusal));
                var e = group[0].Event;
                await db.Database.ExecuteSqlAsync($"""
                    insert into notifications.dead_lettered_events (event_id, order_id, user_id, version, event_type, sql_state, constraint_name, message, dead_lettered_at)
                    values ({e.EventId}, {e.OrderId}, {e.UserId}, {e.Version}, {e.EventType}, {groupRefusal.SqlState}, {groupRefusal.ConstraintName}, {groupRefusal.MessageText}, {now})
                    on conflict (event_id) do update set sql_state = excluded.sql_state, constraint_name = excluded.constraint_name,
                      message = excluded.message, dead_lettered_at = excluded.dead_lettered_at
                    """, cancellationToken);
                return;
            }

            foreach (var half in new[] { group[..(group.Count / 2)], group[(group.Count / 2)..] })
                if (await TryAsync(() => StoreAllAsync(half)) is { } halfRefusal) await IsolateAsync(half, halfRefusal);
        }

        Task<PostgresException?> TryAsync(Func<Task> statement, bool keep = true) =>
            TryUnderSavepointAsync(transaction, Savepoint, statement, keep, cancellationToken);
    }

    /// <summary>
    /// Runs <paramref name="statement"/> under a savepoint, rolled back when PostgreSQL refuses a row (the refusal is
    /// returned) or unless <paramref name="keep"/>. Any other failure propagates.
    /// </summary>
    private static async Task<PostgresException?> TryUnderSavepointAsync(
        IDbContextTransaction transaction, string savepoint, Func<Task> statement, bool keep, CancellationToken cancellationToken)
    {
        await transaction.CreateSavepointAsync(savepoint, cancellationToken);
        PostgresException? rowRefusal = null;
        try { await statement(); }
        catch (Exception exception) when (DatabaseOutage.RowRefusal(exception) is { } caught) { rowRefusal = caught; }
        if (rowRefusal is not null || !keep) await transaction.RollbackToSavepointAsync(savepoint, cancellationToken);
        // Released every time, so the savepoints do not nest deeper with every attempt.
        await transaction.ReleaseSavepointAsync(savepoint, cancellationToken);
        return rowRefusal;
    }

    /// <summary>
    /// The predecessors read from the order log that PostgreSQL accepts, each tried on its own under a savepoint and
    /// rolled back. A refused one has not been dead-lettered yet (its record has not arrived: after a recovery, say). It
    /// is left out, not stored, and its order's later events are stored without it, as after a dead-lettered one. Its own
    /// record is dead-lettered when it arrives. Without this, the batch's isolation would end at the later event and
    /// dead-letter that in the refused one's place.
    /// </summary>
    private static async Task<List<NotificationRow>> WithoutRefusedAsync(
        NotificationsDbContext db, List<NotificationRow> predecessors, DateTimeOffset now, ILogger logger, CancellationToken cancellationToken)
    {
        var transaction = db.Database.CurrentTransaction!;
        var accepted = new List<NotificationRow>(predecessors.Count);
        foreach (var predecessor in predecessors)
        {
            // Only a probe (keep: false): the accepted ones are inserted with the batch, in its one sorted statement.
            if (await TryUnderSavepointAsync(transaction, PredecessorSavepoint,
                    () => InsertAsync(db, [predecessor], now, holdBackGaps: false, cancellationToken), keep: false, cancellationToken) is not { } refusal)
            {
                accepted.Add(predecessor);
                continue;
            }

            var e = predecessor.Event;
            using (ScopeFor(logger, e))
                logger.LogWarning(
                    "Event {EventId} ({EventType}, version {Version} of order {OrderId}), read from the order log to fill a gap: PostgreSQL refuses its notification, {Cause}. " +
                    "The order's later events are stored without it; its own record is dead-lettered when it arrives",
                    e.EventId, e.EventType, e.Version, e.OrderId, DatabaseOutage.Describe(refusal));
        }

        return accepted;
    }

    /// <summary>
    /// In this transaction (Wolverine's own Kafka dead-lettering produces outside any): to order-events.dlq through the
    /// outbox with Wolverine's failure headers, or, from the local queue, into Wolverine's dead-letter storage.
    /// </summary>
    private static async Task DeadLetterAsync(
        NotificationsDbContext db, IMessageContext messaging, IWolverineRuntime runtime, NotificationRow row, PostgresException refusal,
        ILogger logger, CancellationToken cancellationToken)
    {
        var (orderEvent, record) = (row.Event, row.Record!);
        if (record.Destination?.Scheme == "kafka")
        {
            var failure = new Envelope { Destination = record.Destination, PartitionId = record.PartitionId, Offset = record.Offset };
            DeadLetterQueueConstants.StampFailureMetadata(failure, refusal, runtime.DurabilitySettings.DeadLetterFingerprinter);
            var topic = KafkaEndpointUri.Topic(KafkaSettings.DeadLetterTopic);
            await messaging.EndpointFor(topic).SendRawMessageAsync(record.Data!, typeof(OrderEvent), envelope =>
            {
                envelope.Destination = topic; // left unset by SendRawMessageAsync; the outbox needs it
                envelope.PartitionKey = orderEvent.OrderId.ToString(CultureInfo.InvariantCulture);
                envelope.ContentType = "application/json";
                foreach (var (key, value) in failure.Headers) envelope.Headers[key] = value;
            });
        }
        else
        {
            var store = (IMessageDatabase)runtime.Storage;
            var command = new DbCommandBuilder(db.Database.GetDbConnection());
            command.Append($"delete from {store.TableNameFor(DatabaseConstants.IncomingTable)} where id = ");
            command.AppendParameter(record.Id);
            command.Append(" and received_at = ");
            command.AppendParameter(record.Destination?.ToString() ?? "");
            // A dead letter an earlier attempt of this batch wrote for the same envelope is replaced.
            command.Append($"; delete from {store.TableNameFor(DatabaseConstants.DeadLetterTable)} where id = ");
            command.AppendParameter(record.Id);
            command.Append(";");
            DatabasePersistence.ConfigureDeadLetterCommands(runtime.DurabilitySettings, record, refusal, command, store);
            await db.Database.GetDbConnection().ExecuteNonQueryAsync(command, db.Database.CurrentTransaction!.GetDbTransaction(), cancellationToken);
        }

        using (ScopeFor(logger, orderEvent))
            logger.LogError(
                "Dead-lettered event {EventId} ({EventType}, version {Version} of order {OrderId}): PostgreSQL refuses its notification, {Cause}. " +
                "The rest of the batch was stored; re-drive the record once the cause is fixed",
                orderEvent.EventId, orderEvent.EventType, orderEvent.Version, orderEvent.OrderId, DatabaseOutage.Describe(refusal));
    }
}

/// <summary>PostgreSQL refuses a batch's notifications and the table is at fault: MessagingSetup treats it as an outage.</summary>
public sealed class NotificationsRefusedException(int count, string why, PostgresException refusal) : Exception(
    $"PostgreSQL refuses the notifications of a batch of {count} and the fault is the database's, not the records': {why}; " +
    $"{DatabaseOutage.Describe(refusal)}. Nothing is dead-lettered", refusal);
