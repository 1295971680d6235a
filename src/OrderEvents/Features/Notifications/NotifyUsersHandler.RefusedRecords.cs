using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Marten;
using Npgsql;
using OrderEvents.Features.Orders;
using OrderEvents.Infrastructure.Kafka;
using OrderEvents.Infrastructure.Postgres;
using OrderEvents.Infrastructure.Telemetry;
using Weasel.Core;
using Wolverine;
using Wolverine.Kafka;
using Wolverine.RDBMS;
using Wolverine.Runtime;
using Wolverine.Transports;

namespace OrderEvents.Features.Notifications;

/// <summary>
/// What a batch does after PostgreSQL refused one of its rows (SQLSTATE class 22, 23 or P0: a CHECK, a NOT NULL, a value
/// out of range, a trigger's exception; see <see cref="DatabaseOutage.RowRefusal"/>). MessagingSetup runs the batch
/// again at once; that attempt comes here.
/// </summary>
public static partial class NotifyUsersHandler
{
    private const string Savepoint = "notifications";

    /// <summary>
    /// Every step runs under an EF Core savepoint in Wolverine's transaction, so a refused statement undoes only itself:
    /// <list type="number">
    /// <item>The whole batch, as on the first attempt. After an outage (any later attempt comes here) that is all.</item>
    /// <item>A control: a row the table already holds, of a user outside the batch, inserted again with "on conflict do
    /// nothing" and always rolled back. PostgreSQL checks CHECK and NOT NULL constraints (and runs the insert trigger)
    /// before it looks for the conflict, so the control is refused exactly when the table refuses a row it accepted
    /// before: a constraint that refuses everything, or a revoked permission. That is the database's fault, for the
    /// operator: nothing is dead-lettered, an Error names the cause, and <see cref="NotificationsRefusedException"/>
    /// makes MessagingSetup pause the listeners and run the batch again until it is fixed.</item>
    /// <item>Otherwise the records, sorted by user, order and version (an order's earlier events before its later
    /// ones), in halves, and halves of the halves that fail, down to single records. A record refused on its own is
    /// recorded in notifications.dead_lettered_events at once (a later event of its order in this batch then skips it
    /// when the order's gap is filled in), and dead-lettered once the batch is sorted out.</item>
    /// <item>If no record was accepted and the table held no row to try the control on, nothing shows the table still
    /// accepts rows: the operator's outage too. Otherwise every refused record is dead-lettered, in this transaction,
    /// with the rows stored: to order-events.dlq through Wolverine's outbox (key = order id, value = the record's bytes,
    /// Wolverine's dead-letter headers), or into Wolverine's dead-letter storage when the record came from the local
    /// queue (Kafka off). An Error names each one.</item>
    /// </list>
    /// A record refused because a predecessor read from the log is refused (it arrived before that predecessor's own
    /// record) is itself the one dead-lettered: its notification cannot be stored in its order's place.
    /// </summary>
    private static async Task<List<NotificationRow>> StoreSettingRefusedRecordsAsideAsync(
        NotificationsDbContext db, IDocumentStore orderLog, IMessageContext messaging, IWolverineRuntime runtime,
        IReadOnlyList<NotificationRow> rows, DateTimeOffset now, ILogger logger, CancellationToken cancellationToken)
    {
        var transaction = db.Database.CurrentTransaction
                          ?? throw new InvalidOperationException("The notification batch runs in Wolverine's EF Core transaction");
        var (stored, batchRefusal) = await TryInSavepointAsync(transaction, () => StoreAsync(db, orderLog, rows, now, logger, cancellationToken), cancellationToken);
        if (batchRefusal is null) return stored!;

        logger.LogWarning(
            "PostgreSQL refused a row of a batch of {Count} notifications ({SqlState} {Object}: {Reason}); looking for the record(s) it refuses on their own",
            rows.Count, batchRefusal.SqlState, Refused(batchRefusal), batchRefusal.MessageText);
        var control = await ControlAsync(db, transaction, rows, cancellationToken);
        if (control.Refusal is { } controlRefusal)
            throw OperatorOutage(logger, rows.Count, controlRefusal,
                $"it also refuses a notification it already holds (re-inserted with 'on conflict do nothing'): {controlRefusal.SqlState} {Refused(controlRefusal)}");

        var accepted = new List<NotificationRow>();
        var refused = new List<(NotificationRow Row, PostgresException Refusal)>();
        var sorted = rows.Select((row, arrival) => (row, arrival))
            .OrderBy(r => r.row.Event.UserId).ThenBy(r => r.row.Event.OrderId).ThenBy(r => r.row.Event.Version ?? 0).ThenBy(r => r.arrival)
            .Select(r => r.row).ToList();
        if (sorted.Count == 1) await SetAsideAsync(sorted[0], batchRefusal);
        else
        {
            await IsolateAsync(sorted[..(sorted.Count / 2)]);
            await IsolateAsync(sorted[(sorted.Count / 2)..]);
        }

        if (refused.Count == rows.Count && !control.Tried)
            throw OperatorOutage(logger, rows.Count, batchRefusal, "every record was refused on its own, and the table holds no other user's notification to tell a refused record from a refusing table");

        foreach (var (row, refusal) in refused) await DeadLetterAsync(db, messaging, runtime, row, refusal, logger, cancellationToken);
        return accepted;

        async Task IsolateAsync(List<NotificationRow> group)
        {
            var (ok, refusal) = await TryInSavepointAsync(transaction, () => StoreAsync(db, orderLog, group, now, logger, cancellationToken), cancellationToken);
            if (ok is not null) accepted.AddRange(ok);
            else if (group.Count == 1) await SetAsideAsync(group[0], refusal!);
            else
            {
                await IsolateAsync(group[..(group.Count / 2)]);
                await IsolateAsync(group[(group.Count / 2)..]);
            }
        }

        async Task SetAsideAsync(NotificationRow row, PostgresException refusal)
        {
            refused.Add((row, refusal));
            await RememberDeadLetteredAsync(db, row.Event, refusal, now, cancellationToken);
        }
    }

    private static async Task<(List<NotificationRow>? Stored, PostgresException? Refusal)> TryInSavepointAsync(
        IDbContextTransaction transaction, Func<Task<List<NotificationRow>>> store, CancellationToken cancellationToken)
    {
        await transaction.CreateSavepointAsync(Savepoint, cancellationToken);
        try
        {
            var stored = await store();
            await transaction.ReleaseSavepointAsync(Savepoint, cancellationToken);
            return (stored, null);
        }
        catch (Exception exception) when (DatabaseOutage.RowRefusal(exception) is { } refusal)
        {
            await UndoAsync(transaction, cancellationToken);
            return (null, refusal);
        }
    }

    /// <summary>Tried: the table held a row to try; Refusal: PostgreSQL refused it.</summary>
    private sealed record Control(bool Tried, PostgresException? Refusal);

    /// <summary>
    /// Inserts again one notification the table holds, of a user with no record in the batch (a constraint aimed at
    /// the batch's users must not hit it), "on conflict do nothing", and always rolls it back: nothing changes, and the
    /// per-user lock its insert trigger takes is released with the savepoint. Any row will do, so the first one found
    /// (no sort: no scan of a large table).
    /// </summary>
    private static async Task<Control> ControlAsync(
        NotificationsDbContext db, IDbContextTransaction transaction, IReadOnlyList<NotificationRow> rows, CancellationToken cancellationToken)
    {
        var users = rows.Select(row => row.Event.UserId).Distinct().ToArray();
        await transaction.CreateSavepointAsync(Savepoint, cancellationToken);
        try
        {
            // Not composed (no Single/First): a WITH holding an insert must stay the statement's top level.
            var tried = await EntityFrameworkQueryableExtensions.ToListAsync(db.Database.SqlQuery<int>($"""
                with control as (
                  select id, user_id, type, message, order_id, version, created_at
                    from notifications.notifications
                   where user_id <> all({users})
                   limit 1
                ), again as (
                  insert into notifications.notifications (id, user_id, type, message, order_id, version, created_at)
                  select * from control
                  on conflict (id) do nothing
                )
                select count(*)::int as "Value" from control
                """), cancellationToken);
            return new Control(tried.Single() > 0, null);
        }
        catch (PostgresException refusal) when (!DatabaseOutage.IsOutage(refusal))
        {
            return new Control(true, refusal);
        }
        finally
        {
            await UndoAsync(transaction, cancellationToken);
        }
    }

    /// <summary>Back to the savepoint, which then goes too: the attempts do not nest deeper with every refusal.</summary>
    private static async Task UndoAsync(IDbContextTransaction transaction, CancellationToken cancellationToken)
    {
        await transaction.RollbackToSavepointAsync(Savepoint, cancellationToken);
        await transaction.ReleaseSavepointAsync(Savepoint, cancellationToken);
    }

    private static NotificationsRefusedException OperatorOutage(ILogger logger, int count, PostgresException refusal, string why)
    {
        logger.LogError(refusal,
            "PostgreSQL refuses the notifications of a batch of {Count} and the fault is the database's, not the records': {Why}. " +
            "SQLSTATE {SqlState}, {Object}: {Reason}. Nothing is dead-lettered; the batch runs again, the listeners paused in between, until this is fixed",
            count, why, refusal.SqlState, Refused(refusal), refusal.MessageText);
        return new NotificationsRefusedException(
            $"PostgreSQL refuses the notifications of a batch of {count}: {why} ({refusal.SqlState} {Refused(refusal)}: {refusal.MessageText})", refusal);
    }

    /// <summary>The object PostgreSQL names: the constraint, else the column or table.</summary>
    private static string Refused(PostgresException refusal) =>
        refusal.ConstraintName is { } constraint ? $"constraint {constraint} on {refusal.SchemaName}.{refusal.TableName}"
        : refusal.ColumnName is { } column ? $"column {column} of {refusal.SchemaName}.{refusal.TableName}"
        : refusal.TableName is { } table ? $"table {refusal.SchemaName}.{table}"
        : "(no object named)";

    private static Task RememberDeadLetteredAsync(NotificationsDbContext db, OrderEvent orderEvent, PostgresException refusal, DateTimeOffset now, CancellationToken cancellationToken) =>
        db.Database.ExecuteSqlAsync($"""
            insert into notifications.dead_lettered_events (event_id, order_id, user_id, version, event_type, sql_state, constraint_name, message, dead_lettered_at)
            values ({orderEvent.EventId}, {orderEvent.OrderId}, {orderEvent.UserId}, {orderEvent.Version}, {orderEvent.EventType},
                    {refusal.SqlState}, {refusal.ConstraintName}, {refusal.MessageText}, {now})
            on conflict (event_id) do update
               set sql_state = excluded.sql_state, constraint_name = excluded.constraint_name, message = excluded.message,
                   dead_lettered_at = excluded.dead_lettered_at
            """, cancellationToken);

    private static async Task DeadLetterAsync(
        NotificationsDbContext db, IMessageContext messaging, IWolverineRuntime runtime, NotificationRow row, PostgresException refusal,
        ILogger logger, CancellationToken cancellationToken)
    {
        var orderEvent = row.Event;
        var record = row.Record ?? throw new InvalidOperationException(
            $"Event {orderEvent.EventId} has no record to dead-letter: the batch was not built by {nameof(NotificationBatcher)}");
        if (record.Destination?.Scheme == "kafka")
        {
            // The headers Wolverine's own Kafka dead-lettering writes (exception type, message, stack, original partition
            // and offset), stamped on a scratch envelope so the record's own headers stay as they are.
            var failure = new Envelope { Destination = record.Destination, PartitionId = record.PartitionId, Offset = record.Offset };
            DeadLetterQueueConstants.StampFailureMetadata(failure, refusal, runtime.DurabilitySettings.DeadLetterFingerprinter);
            var deadLetterTopic = KafkaEndpointUri.Topic(KafkaSettings.DeadLetterTopic);
            await messaging.EndpointFor(deadLetterTopic).SendRawMessageAsync(
                record.Data ?? JsonSerializer.SerializeToUtf8Bytes(orderEvent, JsonSerializerOptions.Web), typeof(OrderEvent), envelope =>
                {
                    // SendRawMessageAsync leaves the destination unset, and the outbox needs it to persist the envelope.
                    envelope.Destination = deadLetterTopic;
                    envelope.PartitionKey = orderEvent.OrderId.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    envelope.ContentType = "application/json";
                    foreach (var (key, value) in failure.Headers) envelope.Headers[key] = value;
                });
        }
        else
        {
            await MoveToWolverineDeadLettersAsync(db, runtime, record, refusal, cancellationToken);
        }

        OrderEventsMetrics.NotificationDeadLettered(orderEvent.EventType, refusal.SqlState);
        using (logger.BeginScope(new Dictionary<string, object> { ["orderId"] = orderEvent.OrderId, ["eventId"] = orderEvent.EventId }))
            logger.LogError(
                "Dead-lettered event {EventId} ({EventType}, version {Version} of order {OrderId}, user {UserId}): PostgreSQL refuses its notification, SQLSTATE {SqlState}, {Object}: {Reason}. " +
                "The rest of the batch was stored; re-drive the record once the cause is fixed",
                orderEvent.EventId, orderEvent.EventType, orderEvent.Version, orderEvent.OrderId, orderEvent.UserId, refusal.SqlState, Refused(refusal), refusal.MessageText);
    }

    /// <summary>
    /// Kafka off: the record came through the durable local queue, and goes where Wolverine's own dead-lettering puts
    /// it (MoveToDeadLetterStorageAsync: out of the inbox, into wolverine_dead_letters, with Wolverine's dead-letter SQL),
    /// but in this transaction. A dead letter an earlier attempt wrote for the same envelope is replaced.
    /// </summary>
    private static async Task MoveToWolverineDeadLettersAsync(
        NotificationsDbContext db, IWolverineRuntime runtime, Envelope record, PostgresException refusal, CancellationToken cancellationToken)
    {
        if (runtime.Storage is not IMessageDatabase store)
            throw new InvalidOperationException($"Wolverine's message store is {runtime.Storage.GetType().Name}, not a database: cannot dead-letter the record in the notifications' transaction");
        var connection = db.Database.GetDbConnection();
        var command = new DbCommandBuilder(connection);
        command.Append($"delete from {store.TableNameFor(DatabaseConstants.IncomingTable)} where id = ");
        command.AppendParameter(record.Id);
        command.Append(" and received_at = ");
        command.AppendParameter(record.Destination?.ToString() ?? "");
        command.Append($"; delete from {store.TableNameFor(DatabaseConstants.DeadLetterTable)} where id = ");
        command.AppendParameter(record.Id);
        command.Append(";");
        DatabasePersistence.ConfigureDeadLetterCommands(runtime.DurabilitySettings, record, refusal, command, store);
        await connection.ExecuteNonQueryAsync(command, db.Database.CurrentTransaction!.GetDbTransaction(), cancellationToken);
    }
}

/// <summary>
/// PostgreSQL refuses the notifications of a batch and the table itself is at fault (see
/// <see cref="NotifyUsersHandler"/>): MessagingSetup handles it as an outage (pause, run again), never as a poison.
/// </summary>
public sealed class NotificationsRefusedException(string message, Exception inner) : Exception(message, inner);
