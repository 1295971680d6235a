using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using Alba;
using JasperFx.Core;
using Microsoft.Extensions.Logging;
using OrderEvents.Features.Orders;
using OrderEvents.Infrastructure.Kafka;
using OrderEvents.Tests.Orders;
using OrderEvents.Tests.Support;
using Wolverine.Tracking;
using Wolverine.Transports;
using static OrderEvents.Tests.Orders.OrderScenarios;

namespace OrderEvents.Tests.Faults;

/// <summary>
/// PostgreSQL refuses a notification for real (a CHECK constraint added to notifications.notifications, SQLSTATE
/// 23514): the records refused on their own are dead-lettered and everything else moves on; a table that refuses every
/// row, or a database that refuses every insert (a revoked permission), is the operator's outage, paused and retried,
/// with nothing dead-lettered. Short database retries (the
/// collection's fixture) so the pause comes within a second.
/// </summary>
[Collection(ShortDatabaseRetryCollection.Name)]
[Trait("Category", "Faults")]
public sealed class RefusedNotificationTests(ShortDatabaseRetryAppFixture fixture) : IntegrationContext(fixture)
{
    private const string RefuseOneUsersOrders = "refuse_one_users_created_orders";
    private const string RefuseEverything = "refuse_every_notification";
    private const string RevokedPermission = "deny_every_notification";
    // Sorts ahead of assign_position (triggers fire in name order), so a held insert has taken no position lock yet.
    private const string HeldInserts = "a_hold_inserts";

    public override async Task InitializeAsync()
    {
        await DropConstraints();
        await base.InitializeAsync();
        await Sql.ExecuteAsync(Fixture.ConnectionString, "truncate notifications.dead_lettered_events");
    }

    public override async Task DisposeAsync()
    {
        await DropConstraints();
        await base.DisposeAsync();
    }

    [Fact]
    public async Task a_record_the_table_refuses_is_dead_lettered_and_every_other_record_of_every_partition_is_notified()
    {
        var (refused, other, first) = await RefuseOneUsersCreatedOrders();
        Fixture.Logs.Clear();

        // One tracked burst: the refused user's order among the other user's orders, in the same batches.
        var watch = Stopwatch.StartNew();
        var orders = new ConcurrentBag<(TestUser User, long OrderId)>();
        var burst = await Host.TrackActivity().IncludeExternalTransports().Timeout(TrackingTimeout).DoNotAssertOnExceptionsDetected()
            .WaitForNotificationBatches()
            .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(_ => Task.WhenAll(
                new[] { refused }.Concat(Enumerable.Repeat(other, 8)).Select(async user => orders.Add((user, await PlaceOrder(user, track: false)))))));
        var refusedOrder = orders.Single(o => o.User == refused).OrderId;
        var otherOrders = orders.Where(o => o.User == other).Select(o => o.OrderId).Append(first).ToList();
        var createdEvent = burst.PublishedOrderEvents().Single(e => e.OrderId == refusedOrder);

        // Its later event: the order's ORDER_CREATED has no notification, so the batch fills the gap in from the order
        // log, which must skip the dead-lettered event rather than bring its failure back.
        var paid = await Host.TrackActivity().IncludeExternalTransports().Timeout(TrackingTimeout).DoNotAssertOnExceptionsDetected()
            .WaitForNotificationBatches()
            .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(_ => Host.Scenario(s =>
            {
                s.ChangeOrder(refused, refusedOrder, "pay");
                s.StatusCodeShouldBe(HttpStatusCode.OK);
            })));
        watch.Stop();

        (await NotificationsOf(other)).Select(n => n.OrderId).ShouldBe(otherOrders, ignoreOrder: true);
        var paidEvent = paid.PublishedOrderEvents().Single(e => e.OrderId == refusedOrder);
        (await NotificationsOf(refused)).ShouldHaveSingleItem().EventId.ShouldBe(paidEvent.EventId);
        Fixture.Logs.Entries.ShouldContain(e => e.Message.Contains(paidEvent.EventId.ToString()) && e.Message.Contains("arrived before its predecessors")
                                                && e.Message.Contains("storing the 0 earlier events from the order log first (1 dead-lettered, skipped)"),
            "the ORDER_PAID event went through the fill-in, which skipped the dead-lettered ORDER_CREATED");
        watch.Elapsed.ShouldBeLessThan(20.Seconds(), "everything else is notified within seconds");
        var partitions = new KafkaProbe(Fixture.BootstrapServers).ReadUntil(KafkaSettings.OrderEventsTopic,
            r => otherOrders.Contains(long.Parse(r.Message.Key)), count: otherOrders.Count).Select(r => r.Partition.Value).Distinct().Count();
        partitions.ShouldBeGreaterThan(1, "the other user's orders spread over several partitions");

        // The refused record, and only it, in order-events.dlq: keyed by its order, its event's JSON, Wolverine's headers.
        var letter = (await DeadLettersOf(refusedOrder, expected: 1)).ShouldHaveSingleItem();
        letter.ValueText.ShouldContain(createdEvent.EventId.ToString());
        letter.ExceptionType.ShouldBe(typeof(Npgsql.PostgresException).FullName);
        letter.ExceptionMessage!.ShouldContain(RefuseOneUsersOrders);
        letter.OriginalPartition.ShouldNotBeNull();
        Convert.ToString(await Sql.ScalarAsync(Fixture.ConnectionString,
            $"select sql_state from notifications.dead_lettered_events where event_id = '{createdEvent.EventId}'")).ShouldBe("23514");

        // No retry loop: the batch that held it failed once and its second attempt settled it; one Error names it.
        BatchReRuns(burst).ShouldBe(1, "one failed attempt: the batch that held the refused record");
        BatchReRuns(paid).ShouldBe(0, "the later event of the refused order is stored at the first attempt");
        Fixture.Logs.Entries.Count(e => e.Level == LogLevel.Error && e.Message.StartsWith($"Dead-lettered event {createdEvent.EventId}")).ShouldBe(1);

        // Re-driven while the cause is still there: dead-lettered again, once, and nothing else happens.
        await Redrive(refusedOrder);
        await DeadLettersOf(refusedOrder, expected: 2);
        (await NotificationsOf(refused)).ShouldHaveSingleItem().Type.ShouldBe(OrderEventTypes.Paid);

        // Once the cause is gone, dlq-redrive stores the notification in its order's place, exactly once (both dead
        // letters of it were re-driven).
        await DropConstraints();
        Fixture.Logs.Clear();
        await Redrive(refusedOrder);
        // (ListenerPassed's sentinel records share the order id but have no version.)
        var notified = (await OrderNotifications.Notified(Fixture.ConnectionString, refusedOrder)).Where(n => n.Version != null).ToList();
        notified.Count(n => n.Id == createdEvent.EventId).ShouldBe(1);
        notified.Select(n => n.Version).ShouldBe(new long?[] { 2, 1 }, "ORDER_CREATED came after ORDER_PAID: below the order's highest version, accepted");
        (await NotificationsOf(refused)).Select(n => n.Type).ShouldBe([OrderEventTypes.Created, OrderEventTypes.Paid], ignoreOrder: true);
        // The second letter came back as the delivery of the first re-drive: absorbed by the inbox, quietly.
        Fixture.Logs.Entries.ShouldNotContain(e => e.Level >= LogLevel.Warning);
    }

    [Fact]
    public async Task a_lone_refused_record_is_dead_lettered_rather_than_retried_for_ever()
    {
        var (refused, other, _) = await RefuseOneUsersCreatedOrders();

        // At low traffic the refused record is a batch of its own: every record of the batch fails, but the table
        // still accepts rows (the control), so it is a poison, not an outage.
        var orderId = await PlaceOrder(refused, track: true);

        (await DeadLettersOf(orderId, expected: 1)).ShouldHaveSingleItem();
        (await NotificationsOf(refused)).ShouldBeEmpty();
        await PlaceOrder(other);
        (await NotificationsOf(other)).Count.ShouldBe(2, "the partitions move on");
    }

    [Fact]
    public async Task a_later_event_whose_refused_predecessor_has_not_arrived_yet_is_stored_and_only_the_refused_event_is_left_out()
    {
        var (refused, _, _) = await RefuseOneUsersCreatedOrders();
        // The order is in the log; its ORDER_PAID record arrives first and ORDER_CREATED's has not come yet (a recovery,
        // or the other of two batches running side by side), so the batch fills the gap from the log with a refused event.
        var records = await OrderLog.AppendAsync(Store, refused.Id, OrderEventTypes.Paid);
        Fixture.Logs.Clear();

        await Host.TrackActivity().IncludeExternalTransports().Timeout(TrackingTimeout).DoNotAssertOnExceptionsDetected()
            .WaitForCondition(new HandledCount<OrderEvent>(1))
            .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(_ =>
                new KafkaProbe(Fixture.BootstrapServers).ProduceAsync(KafkaSettings.OrderEventsTopic, records[1].OrderId.ToString(), OrderLog.Json(records[1]))));

        // ORDER_PAID is notified; ORDER_CREATED is left to its own record (dead-lettered when it arrives), not the
        // later event dead-lettered in its place.
        (await NotificationsOf(refused)).ShouldHaveSingleItem().EventId.ShouldBe(records[1].EventId);
        Convert.ToInt64(await Sql.ScalarAsync(Fixture.ConnectionString,
            $"select count(*) from notifications.dead_lettered_events where order_id = {records[0].OrderId}")).ShouldBe(0);
        Fixture.Logs.Entries.ShouldContain(e => e.Level == LogLevel.Warning && e.Message.Contains(records[0].EventId.ToString())
                                                && e.Message.Contains("refuses"));

        // Its own record, when it comes, is dead-lettered as any refused record is.
        await new KafkaProbe(Fixture.BootstrapServers).ProduceAsync(KafkaSettings.OrderEventsTopic, records[0].OrderId.ToString(), OrderLog.Json(records[0]));
        (await DeadLettersOf(records[0].OrderId, expected: 1)).ShouldHaveSingleItem().ValueText.ShouldContain(records[0].EventId.ToString());
        (await NotificationsOf(refused)).ShouldHaveSingleItem().EventId.ShouldBe(records[1].EventId);
    }

    /// <summary>
    /// Two batches at a time: the refused ORDER_CREATED is still in flight in one batch when its ORDER_PAID runs in the
    /// other, which finds no notified predecessor and fills the gap from the order log with the refused event. A trigger
    /// holds both batches' inserts of the refused user's rows until each batch has reached it, so they overlap for sure.
    /// </summary>
    [Fact]
    public async Task a_refused_event_and_its_successor_in_two_batches_side_by_side_dead_letter_only_the_refused_event()
    {
        var (refused, _, _) = await RefuseOneUsersCreatedOrders();
        var records = await OrderLog.AppendAsync(Store, refused.Id, OrderEventTypes.Paid);
        await using var gate = await HoldInsertsOf(refused);
        Fixture.Logs.Clear();

        var probe = new KafkaProbe(Fixture.BootstrapServers);
        await Host.TrackActivity().IncludeExternalTransports().Timeout(TrackingTimeout).DoNotAssertOnExceptionsDetected()
            .WaitForCondition(new HandledCount<OrderEvent>(2))
            .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(async _ =>
            {
                await probe.ProduceAsync(KafkaSettings.OrderEventsTopic, records[0].OrderId.ToString(), OrderLog.Json(records[0]));
                await gate.WaitForHeldInserts(1); // ORDER_CREATED's batch, in its insert
                await probe.ProduceAsync(KafkaSettings.OrderEventsTopic, records[1].OrderId.ToString(), OrderLog.Json(records[1]));
                await gate.WaitForHeldInserts(2); // ORDER_PAID's batch, in its insert of ORDER_CREATED read from the log
                await gate.OpenAsync();
            }));

        (await NotificationsOf(refused)).ShouldHaveSingleItem().EventId.ShouldBe(records[1].EventId);
        (await DeadLettersOf(records[0].OrderId, expected: 1)).ShouldHaveSingleItem().ValueText.ShouldContain(records[0].EventId.ToString());
        Fixture.Logs.Entries.ShouldNotContain(e => e.Message.StartsWith($"Dead-lettered event {records[1].EventId}"));
    }

    [Theory]
    [InlineData(true)]  // the control (another user's notification, inserted again) is refused too
    [InlineData(false)] // the table holds no other user's notification: nothing shows it still accepts rows
    public async Task a_table_that_refuses_every_row_is_an_outage_nothing_is_dead_lettered_and_everything_is_notified_once_it_is_fixed(bool controlRow)
    {
        var user = await RegisterAndLogin();
        var first = await PlaceOrder(controlRow ? await RegisterAndLogin() : user);
        await Refuse(RefuseEverything, "user_id < 0");
        Fixture.Logs.Clear();

        // Orders are accepted meanwhile; their notifications wait.
        var outage = new StoredEvents();
        var orders = new List<long>();
        for (var i = 0; i < 3; i++) orders.Add(await PlaceOrder(user, track: false));

        await Host.TrackActivity().IncludeExternalTransports().Timeout(TrackingTimeout).DoNotAssertOnExceptionsDetected()
            .WaitForCondition(outage)
            .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(async _ =>
            {
                // The operator's view: an Error that names the cause, the listeners paused; then the constraint goes.
                var cause = await WaitForLog(e => e.Level == LogLevel.Error && e.Message.Contains("23514") && e.Message.Contains(RefuseEverything)
                                                  && e.Message.Contains("the database's, not the records'"));
                cause.Message.ShouldContain("Nothing is dead-lettered");
                cause.Message.ShouldContain(controlRow ? "it also refuses a notification it already holds" : "the table holds no other user's notification");
                await WaitForLog(e => e.Level == LogLevel.Error && e.Message.Contains("the Kafka listeners pause"));
                (await NotificationsOf(user)).Count.ShouldBe(controlRow ? 0 : 1, "nothing is stored while the table refuses every row");
                outage.Expect(orders);
                await DropConstraints();
            }));

        (await NotificationsOf(user)).Select(n => n.OrderId).ShouldBe(controlRow ? orders : orders.Append(first), ignoreOrder: true);
        await AssertNothingDeadLettered(orders);
    }

    /// <summary>
    /// The database itself is wrong, not a record: every insert fails with SQLSTATE 42501 (insufficient privilege, what a
    /// revoked grant gives; raised by a trigger, since the tests connect as a superuser, whom no REVOKE stops). Not a
    /// refusal of one record's values (class 22/23/P0): the batch is not bisected, nothing is dead-lettered, the listeners
    /// pause with an Error naming the SQLSTATE, and once the grant is "restored" everything is stored once.
    /// </summary>
    [Fact]
    public async Task a_revoked_permission_is_an_outage_not_a_poison_and_everything_is_notified_once_it_is_restored()
    {
        var user = await RegisterAndLogin();
        await Sql.ExecuteAsync(Fixture.ConnectionString, $"""
            create or replace function notifications.{RevokedPermission}() returns trigger language plpgsql as
            $$ begin raise exception 'permission denied for table notifications' using errcode = '42501'; end $$;
            create trigger {RevokedPermission} before insert on notifications.notifications
            for each row execute function notifications.{RevokedPermission}();
            """);
        Fixture.Logs.Clear();

        var outage = new StoredEvents();
        var orders = new List<long>();
        for (var i = 0; i < 3; i++) orders.Add(await PlaceOrder(user, track: false));

        await Host.TrackActivity().IncludeExternalTransports().Timeout(TrackingTimeout).DoNotAssertOnExceptionsDetected()
            .WaitForCondition(outage)
            .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(async _ =>
            {
                await WaitForLog(e => e.Level == LogLevel.Error && e.Message.Contains("the Kafka listeners pause") && e.Message.Contains("42501"));
                (await NotificationsOf(user)).ShouldBeEmpty("nothing is stored while every insert is refused");
                outage.Expect(orders);
                await DropConstraints();
            }));

        (await NotificationsOf(user)).Select(n => n.OrderId).ShouldBe(orders, ignoreOrder: true);
        await AssertNothingDeadLettered(orders);
    }

    /// <summary>An outage dead-letters nothing: none of these orders on the DLQ topic, none recorded, none logged.</summary>
    private async Task AssertNothingDeadLettered(IEnumerable<long> orders)
    {
        foreach (var orderId in orders) new KafkaProbe(Fixture.BootstrapServers)
            .ReadUntil(KafkaSettings.DeadLetterTopic, r => r.Message.Key == orderId.ToString(), timeoutSeconds: 1).ShouldBeEmpty();
        Convert.ToInt64(await Sql.ScalarAsync(Fixture.ConnectionString, "select count(*) from notifications.dead_lettered_events")).ShouldBe(0);
        Fixture.Logs.Entries.ShouldNotContain(e => e.Message.StartsWith("Dead-lettered event"));
    }

    private async Task<long> PlaceOrder(TestUser user, bool track = true)
    {
        if (!track)
        {
            var placed = await Host.Scenario(s =>
            {
                s.PlaceOrder(user, Items((1, 1)));
                s.StatusCodeShouldBe(HttpStatusCode.Created);
            });
            return (await placed.Json()).GetProperty("id").GetInt64();
        }

        long orderId = 0;
        await Host.TrackActivity().IncludeExternalTransports().Timeout(TrackingTimeout).DoNotAssertOnExceptionsDetected()
            .WaitForNotificationBatches()
            .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(async _ => orderId = await PlaceOrder(user, track: false)));
        return orderId;
    }

    /// <summary>
    /// Two users; the table refuses the first one's ORDER_CREATED notifications from now on. The other user's first order
    /// is stored before it starts refusing: a row the control can try.
    /// </summary>
    private async Task<(TestUser Refused, TestUser Other, long OthersFirstOrder)> RefuseOneUsersCreatedOrders()
    {
        var refused = await RegisterAndLogin();
        var other = await RegisterAndLogin();
        var first = await PlaceOrder(other);
        await Refuse(RefuseOneUsersOrders, $"user_id <> {refused.Id} or type <> 'ORDER_CREATED'");
        return (refused, other, first);
    }

    /// <summary>
    /// Holds every insert of the user's notifications (a BEFORE INSERT trigger that fires ahead of the position trigger and
    /// waits for an advisory lock this connection keeps) until <see cref="InsertGate.OpenAsync"/>.
    /// </summary>
    private async Task<InsertGate> HoldInsertsOf(TestUser user)
    {
        var connection = new Npgsql.NpgsqlConnection(Fixture.ConnectionString);
        await connection.OpenAsync();
        await using (var hold = new Npgsql.NpgsqlCommand($"""
            select pg_advisory_lock({InsertGate.LockKey}, 1);
            create or replace function notifications.{HeldInserts}() returns trigger language plpgsql as
            $$ begin if new.user_id = {user.Id} then perform pg_advisory_xact_lock_shared({InsertGate.LockKey}, 1); end if; return new; end $$;
            create trigger {HeldInserts} before insert on notifications.notifications
            for each row execute function notifications.{HeldInserts}();
            """, connection))
            await hold.ExecuteNonQueryAsync();
        return new InsertGate(connection);
    }

    private sealed class InsertGate(Npgsql.NpgsqlConnection connection) : IAsyncDisposable
    {
        public const int LockKey = 23_023;
        private bool _open;

        /// <summary>Until <paramref name="count"/> sessions wait at the gate (pg_locks), for at most 30 s.</summary>
        public async Task WaitForHeldInserts(int count)
        {
            var deadline = DateTime.UtcNow + 30.Seconds();
            await using var waiting = new Npgsql.NpgsqlCommand(
                $"select count(*) from pg_locks where locktype = 'advisory' and classid = {LockKey} and objid = 1 and objsubid = 2 and not granted", connection);
            while (Convert.ToInt64(await waiting.ExecuteScalarAsync()) < count)
            {
                if (DateTime.UtcNow > deadline) throw new TimeoutException($"fewer than {count} batches reached the held insert");
                await Task.Delay(50);
            }
        }

        public async Task OpenAsync()
        {
            if (_open) return;
            _open = true;
            await using var release = new Npgsql.NpgsqlCommand($"select pg_advisory_unlock({LockKey}, 1)", connection);
            await release.ExecuteScalarAsync();
        }

        /// <summary>Opens the gate; the trigger goes with the test's other constraints (DropConstraints).</summary>
        public async ValueTask DisposeAsync()
        {
            await OpenAsync();
            await connection.DisposeAsync();
        }
    }

    private Task Refuse(string name, string check) => Sql.ExecuteAsync(Fixture.ConnectionString,
        $"alter table notifications.notifications add constraint {name} check ({check}) not valid");

    private Task DropConstraints() => Sql.ExecuteAsync(Fixture.ConnectionString,
        $"alter table notifications.notifications drop constraint if exists {RefuseOneUsersOrders}, drop constraint if exists {RefuseEverything}; " +
        $"drop trigger if exists {RevokedPermission} on notifications.notifications; drop function if exists notifications.{RevokedPermission}(); " +
        $"drop trigger if exists {HeldInserts} on notifications.notifications; drop function if exists notifications.{HeldInserts}()");

    /// <summary>The dead letters of one order, once there are <paramref name="expected"/> of them (the outbox sends them after the commit).</summary>
    private async Task<IReadOnlyList<DeadLetter>> DeadLettersOf(long orderId, int expected)
    {
        var deadline = DateTime.UtcNow + 30.Seconds();
        while (true)
        {
            var letters = DeadLetters.ReadAll(Fixture.BootstrapServers, 10.Seconds()).Where(l => l.Key == orderId.ToString()).ToList();
            if (letters.Count >= expected || DateTime.UtcNow > deadline)
            {
                letters.Count.ShouldBe(expected, $"dead letters of order {orderId}");
                return letters;
            }

            await Task.Delay(100);
        }
    }

    /// <summary>
    /// What `dlq-redrive --all` does for the order's dead letters; then waits until the listener has passed them (a
    /// letter re-driven before comes back with the id of that earlier delivery, and the inbox drops it untracked).
    /// </summary>
    private async Task Redrive(long orderId)
    {
        var letters = DeadLetters.ReadAll(Fixture.BootstrapServers, 10.Seconds()).Where(l => l.Key == orderId.ToString()).ToList();
        await DeadLetters.RedriveAsync(Fixture.BootstrapServers, letters);
        await ListenerPassed([orderId.ToString()]);
    }

    /// <summary>How often batches ran again after a failed attempt (the tracked records do not carry the exception).</summary>
    private static int BatchReRuns(ITrackedSession session) => session.AllRecordsInOrder()
        .Where(r => r.MessageEventType == MessageEventType.ExecutionStarted && r.Message is OrderEvent[])
        .GroupBy(r => r.Envelope!.Id).Sum(attempts => attempts.Count() - 1);

    private async Task<CapturedLogs.Entry> WaitForLog(Func<CapturedLogs.Entry, bool> match)
    {
        var deadline = DateTime.UtcNow + 30.Seconds();
        while (true)
        {
            if (Fixture.Logs.Entries.FirstOrDefault(match) is { } entry) return entry;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException("No such log line; logged: " + string.Join("\n", Fixture.Logs.Entries.Where(e => e.Level >= LogLevel.Warning).Select(e => e.Message)));
            await Task.Delay(50);
        }
    }

    /// <summary>Completes once a batch stored an event of each expected order.</summary>
    private sealed class StoredEvents : ITrackedCondition
    {
        private readonly ConcurrentDictionary<long, bool> _stored = new();
        private volatile IReadOnlyCollection<long>? _expected;

        public void Expect(IReadOnlyCollection<long> orders) => _expected = orders;

        public void Record(EnvelopeRecord record)
        {
            foreach (var stored in NotificationBatches.Stored(record)) _stored[stored.OrderId] = true;
        }

        public bool IsCompleted() => _expected is { } expected && expected.All(_stored.ContainsKey);

        public override string ToString() => $"orders stored: {string.Join(", ", _stored.Keys)}; expected {string.Join(", ", _expected ?? [])}";
    }
}
