using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;
using OrderEvents.Infrastructure.Kafka;
using OrderEvents.Tests.Support;
using Xunit.Abstractions;

namespace OrderEvents.Tests.Crashes;

/// <summary>
/// The product's promise under SIGKILL: the app is killed in the middle of a burst of orders, once at least
/// <see cref="KillAfter"/> orders were answered 201 (fewer fails the test), with work provably pending at the kill
/// (unsent outbox envelopes or logged events without a notification, read from PostgreSQL before the restart). After
/// the recovery every order answered 201 is stored, and every stored order has exactly one ORDER_CREATED
/// notification. Recovery times are printed. Against a standalone broker the app is the published service (Release, its
/// pre-generated handler code, as it ships) and the recovery targets are asserted: everything notified within
/// <see cref="RestartDeadline"/> (the target, 5 s, with a margin) of the restart command, a dead node's outbox sent by the survivor within
/// <see cref="TakeoverTarget"/> of the kill. The default run (the development host, Debug, embedded broker) only has to
/// recover within <see cref="RecoveryDeadline"/>.
/// </summary>
[Trait("Category", "Crashes")]
[Trait("Category", "Faults")]
[Collection(CrashCollection.Name)]
public sealed class CrashRecoveryTests(ITestOutputHelper output)
{
    /// <summary>N: the app is killed the moment this many orders were answered 201.</summary>
    private const int KillAfter = 90;

    /// <summary>A burst that ends before N orders were accepted fails the test: the kill never happened under load.</summary>
    private const int BurstLimit = 1000;

    private static readonly TimeSpan RecoveryDeadline = TimeSpan.FromSeconds(45);

    /// <summary>Restart after a kill, standalone broker: issue 22's target for "every event notified after the restart command".</summary>
    private static readonly TimeSpan RestartTarget = TimeSpan.FromSeconds(5);

    /// <summary>
    /// What the test asserts: the target with a margin for a loaded CI machine, where the restarted service's own
    /// start-up alone took up to 4.7 s (2.3 s on a quieter one); the output prints both.
    /// </summary>
    private static readonly TimeSpan RestartDeadline = TimeSpan.FromSeconds(8);

    /// <summary>Two nodes, one killed: the survivor has sent the dead node's outbox this long after the kill.</summary>
    private static readonly TimeSpan TakeoverTarget = TimeSpan.FromSeconds(8);

    [Fact]
    public async Task killed_mid_burst_on_the_embedded_broker_every_stored_order_gets_its_notification_after_the_restart()
    {
        var database = await TestPostgres.CreateDatabaseAsync();
        var log = new EventLog(database);
        var settings = Settings(database);

        IReadOnlyCollection<long> accepted;
        await using (var app = await AppProcess.ServeAsync(settings, "app", output))
        {
            accepted = await BurstThenKill(app, await Tokens(app), log);
        }

        await AssertWorkWasPending(log);
        await using var restarted = await Restart(settings, out var restartedAt);
        var answering = DateTime.UtcNow - restartedAt;
        var recovered = await log.WaitUntilEveryEventIsNotified(restartedAt, RecoveryDeadline);
        output.WriteLine($"Every event notified {recovered?.TotalSeconds:0.0} s after the restart (the app answered HTTP after {answering.TotalSeconds:0.0} s)");

        recovered.ShouldNotBeNull($"events still without a notification {RecoveryDeadline.TotalSeconds} s after the restart:\n{restarted.Output}");
        await AssertEveryAcceptedOrderStoredAndNotifiedOnce(log, accepted);
    }

    [Fact]
    public async Task killed_mid_burst_with_a_broker_that_outlives_it_the_outbox_left_behind_is_sent_within_seconds_of_the_restart()
    {
        var database = await TestPostgres.CreateDatabaseAsync();
        var log = new EventLog(database);
        await using var broker = await StandaloneBroker.StartAsync();
        var settings = AppProcess.ServiceSettings(Settings(database, broker, "crash-" + Guid.NewGuid().ToString("N")[..8]));
        var service = await PublishedApp.AssemblyPathAsync();

        IReadOnlyCollection<long> accepted;
        await using (var app = await AppProcess.ServeAsync(Named(settings, Killed), "app", output, assembly: service))
        {
            // Killed at a moment the outbox holds envelopes: the restart must have something of its own to send.
            accepted = await BurstThenKill(app, await Tokens(app), log, killWhen: async () => await log.UnsentOutbox() > 0);
        }

        await AssertWorkWasPending(log);
        (await log.UnsentOutbox()).ShouldBeGreaterThan(0, "the outbox held nothing at the kill: the restart would have nothing to recover");
        await using var restarted = await Restart(settings, out var restartedAt, service);
        var answering = DateTime.UtcNow - restartedAt;
        var outboxEmpty = await WaitFor(async () => await log.UnsentOutbox() == 0, restartedAt);
        var recovered = await log.WaitUntilEveryEventIsNotified(restartedAt, RecoveryDeadline);
        output.WriteLine($"Outbox sent {outboxEmpty?.TotalSeconds:0.0} s and every event notified {recovered?.TotalSeconds:0.0} s after the restart (the app answered HTTP after {answering.TotalSeconds:0.0} s; target {RestartTarget.TotalSeconds:0} s, asserted {RestartDeadline.TotalSeconds:0} s)");

        outboxEmpty.ShouldNotBeNull($"the dead node's outbox was not sent in time:\n{restarted.Output}");
        recovered.ShouldNotBeNull($"events still without a notification:\n{restarted.Output}");
        recovered.GetValueOrDefault().ShouldBeLessThanOrEqualTo(RestartDeadline, $"everything notified {recovered.GetValueOrDefault().TotalSeconds:0.0} s after the restart:\n{restarted.Output}");
        await AssertEveryAcceptedOrderStoredAndNotifiedOnce(log, accepted);
    }

    [Fact]
    public async Task two_instances_one_killed_under_load_the_survivor_sends_its_outbox_takes_its_partitions_and_commits_every_offset()
    {
        var database = await TestPostgres.CreateDatabaseAsync();
        var log = new EventLog(database);
        await using var broker = await StandaloneBroker.StartAsync();
        var group = "pair-" + Guid.NewGuid().ToString("N")[..8];
        var settings = AppProcess.ServiceSettings(Settings(database, broker, group));
        var service = await PublishedApp.AssemblyPathAsync();

        await using var survivor = await AppProcess.ServeAsync(settings, "survivor", output, assembly: service);
        await using var victim = await AppProcess.ServeAsync(Named(settings, Killed), "victim", output, assembly: service);
        var victimNode = await victim.WolverineNodeNumberAsync(TimeSpan.FromSeconds(30));
        (await survivor.WolverineNodeNumberAsync(TimeSpan.FromSeconds(30))).ShouldNotBe(victimNode);
        var tokens = await Tokens(survivor);

        // Load on both; the victim dies mid-burst while the survivor keeps taking orders.
        var survivorAccepted = new ConcurrentBag<long>();
        var survivorLoad = Burst(survivor, tokens, KillAfter, survivorAccepted.Add);
        // Killed at a moment its outbox holds envelopes of its own: the takeover must have something to send.
        var victimAccepted = await BurstThenKill(victim, tokens, log, killWhen: async () => (await log.OutboxOwnedBy(victimNode)).Count > 0);
        var killedAt = DateTime.UtcNow;
        // The victim's own unsent envelopes, read before the survivor can declare it dead (its heartbeat must be 1.5 s late).
        var victimOutbox = await log.OutboxOwnedBy(victimNode);
        output.WriteLine($"at the kill: {victimOutbox.Count} unsent outbox envelopes owned by the victim (node {victimNode})");
        victimOutbox.ShouldNotBeEmpty($"the victim (node {victimNode}) had nothing in its outbox at the kill: the takeover would prove nothing");
        await AssertWorkWasPending(log);
        await survivorLoad;
        survivorAccepted.Count.ShouldBe(KillAfter, "the survivor refused orders while the victim died");

        var victimOutboxSent = await WaitFor(async () => (await log.StillInOutbox(victimOutbox)).Count == 0, killedAt);
        var outboxEmpty = await WaitFor(async () => await log.UnsentOutbox() == 0, killedAt);
        var recovered = await log.WaitUntilEveryEventIsNotified(killedAt, RecoveryDeadline);
        output.WriteLine($"The victim's outbox sent by the survivor {victimOutboxSent?.TotalSeconds:0.0} s, every event notified {recovered?.TotalSeconds:0.0} s after the kill (target {TakeoverTarget.TotalSeconds:0} s)");
        victimOutboxSent.ShouldNotBeNull($"the victim's outbox was not sent by the survivor:\n{survivor.Output}");
        victimOutboxSent.GetValueOrDefault().ShouldBeLessThanOrEqualTo(TakeoverTarget, $"the survivor took {victimOutboxSent.GetValueOrDefault().TotalSeconds:0.0} s to send the victim's outbox:\n{survivor.Output}");
        // Sent by the survivor: the only live node ejected the victim's node and released its envelopes, and each of them
        // went through Kafka into the durable inbox.
        // Dead (its PostgreSQL session ended, NodeLiveness) or stale (Wolverine's heartbeat rule), whichever came first.
        survivor.Lines.ShouldContain(line => line.Contains("Ejected ") && line.Contains($"(assigned node number {victimNode})"),
            $"the survivor never ejected the victim's node {victimNode}:\n{survivor.Output}");
        (await log.Received(victimOutbox)).Count.ShouldBe(victimOutbox.Count, "envelopes of the victim's outbox that never reached the inbox");

        // A new order after the takeover is handled by the survivor, whichever partition it lands on.
        var takeoverProbe = DateTime.UtcNow;
        var probes = new List<long>();
        for (var i = 0; i < 6; i++)
        {
            using var placed = await survivor.PlaceOrderAsync(tokens[i % tokens.Count]);
            placed.StatusCode.ShouldBe(HttpStatusCode.Created);
            probes.Add(await OrderId(placed));
        }

        var probesHandled = await log.WaitUntilEveryEventIsNotified(takeoverProbe, RecoveryDeadline);
        output.WriteLine($"Orders placed after the takeover notified within {probesHandled?.TotalSeconds:0.0} s");

        outboxEmpty.ShouldNotBeNull("the killed node's outbox was not sent by the survivor");
        recovered.ShouldNotBeNull($"events still without a notification:\n{survivor.Output}");
        probesHandled.ShouldNotBeNull("the survivor did not take over every partition");
        await AssertEveryAcceptedOrderStoredAndNotifiedOnce(log, [.. victimAccepted, .. survivorAccepted, .. probes]);

        // After the rebalance every partition's committed offset reaches its end: a restart re-reads nothing. The
        // survivor's own partitions were revoked and assigned again too (RebalanceOffsetTests covers that alone).
        var probe = new KafkaProbe(broker.BootstrapServers);
        var offsets = Offsets(probe, group);
        var committed = await WaitFor(() => Task.FromResult((offsets = Offsets(probe, group)).All(o => o.Committed == o.End)), DateTime.UtcNow);
        output.WriteLine(committed is { } took
            ? $"Committed offsets reached the end of every partition {took.TotalSeconds:0.0} s after the last order was handled"
            : $"Committed offsets still behind after {RecoveryDeadline.TotalSeconds} s: {KafkaProbe.Describe(offsets)}");
        committed.ShouldNotBeNull($"the group's committed offsets stayed behind the handled records: {KafkaProbe.Describe(offsets)}\n{survivor.Output}");
    }

    private static IReadOnlyList<(int Partition, long Committed, long End)> Offsets(KafkaProbe probe, string group) =>
        probe.GroupOffsets(group, KafkaSettings.OrderEventsTopic, KafkaSettings.OrderEventsPartitions);

    private static Dictionary<string, string?> Settings(string database, StandaloneBroker? broker = null, string? group = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings__Postgres"] = database,
            ["Logging__LogLevel__Default"] = "Warning",
        };
        if (broker is null) return settings;
        settings["KAFKA_BROKERS"] = broker.BootstrapServers;
        settings["KAFKA_GROUP_ID"] = group;
        return settings;
    }

    /// <summary>The PostgreSQL application name of the app that is killed on a condition (<see cref="BurstThenKill"/>).</summary>
    private const string Killed = "orderevents-killed-app";

    /// <summary>These settings, with the app's PostgreSQL sessions named <paramref name="applicationName"/>.</summary>
    private static Dictionary<string, string?> Named(IReadOnlyDictionary<string, string?> settings, string applicationName) => new(settings)
    {
        ["ConnectionStrings__Postgres"] = new NpgsqlConnectionStringBuilder(settings["ConnectionStrings__Postgres"])
        {
            ApplicationName = applicationName,
        }.ConnectionString,
    };

    private Task<AppProcess> Restart(IReadOnlyDictionary<string, string?> settings, out DateTime restartedAt, string? assembly = null)
    {
        restartedAt = DateTime.UtcNow;
        return AppProcess.ServeAsync(settings, "app (restarted)", output, assembly: assembly);
    }

    private async Task<List<string>> Tokens(AppProcess app)
    {
        var tokens = new List<string>();
        for (var i = 0; i < 4; i++) tokens.Add(await app.RegisterAndLoginAsync($"crash-{Guid.NewGuid():N}@tests.local"));
        return tokens;
    }

    /// <summary>
    /// Places orders 16 at a time and SIGKILLs the app the moment <see cref="KillAfter"/> of them were answered 201 (and,
    /// when given, <paramref name="killWhen"/> holds while the app is frozen, <see cref="HoldsFrozen"/>). Returns the id of
    /// every order answered 201, including those of requests in flight at the kill that still got their answer. Fails
    /// when the burst ends without N orders accepted (the kill would not have been under load).
    /// </summary>
    private async Task<IReadOnlyCollection<long>> BurstThenKill(
        AppProcess app, IReadOnlyList<string> tokens, EventLog log, Func<Task<bool>>? killWhen = null)
    {
        var accepted = new ConcurrentBag<long>();
        var count = 0;
        var burstOver = false;
        var enough = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var kill = Task.Run(async () =>
        {
            await enough.Task;
            while (killWhen is not null && !Volatile.Read(ref burstOver) && !await HoldsFrozen(app, log, killWhen)) { }
            await app.KillAsync();
        });
        // Waiting for a condition (envelopes in the outbox, which an idle machine sends within milliseconds), the burst
        // goes on longer: a burst that ended first would leave nothing to kill it at.
        await Burst(app, tokens, killWhen is null ? BurstLimit : 5 * BurstLimit, id =>
        {
            accepted.Add(id);
            if (Interlocked.Increment(ref count) == KillAfter) enough.TrySetResult();
        });
        Volatile.Write(ref burstOver, true);
        enough.TrySetResult();
        await kill;
        accepted.Count.ShouldBeGreaterThanOrEqualTo(KillAfter, $"{app.Name} was never killed: the burst ended with only {accepted.Count} orders accepted");
        app.HasExited.ShouldBeTrue();
        output.WriteLine($"{app.Name}: killed once {KillAfter} orders were answered 201; {accepted.Count} answered 201 in all");
        return accepted.ToList();
    }

    /// <summary>
    /// Whether <paramref name="condition"/> holds with the app frozen (SIGSTOP) and every statement it had sent finished;
    /// if not, the app runs on (SIGCONT). Seen while it runs, an envelope in the outbox can be sent and deleted before the
    /// SIGKILL lands (with a 10 ms outbox window, CI saw exactly that); seen frozen, it is still there at the kill.
    /// </summary>
    private static async Task<bool> HoldsFrozen(AppProcess app, EventLog log, Func<Task<bool>> condition)
    {
        if (!await condition()) return false;
        app.Freeze();
        // A frozen app's statement that waits on a lock its own open transaction holds never finishes: thaw and retry.
        if (await WaitFor(() => log.NoStatementRuns(Killed), DateTime.UtcNow, TimeSpan.FromSeconds(2)) is not null && await condition()) return true;
        app.Thaw();
        return false;
    }

    /// <summary>Places up to <paramref name="count"/> orders, 16 at a time, until they are placed or the app is gone.</summary>
    private static async Task Burst(AppProcess app, IReadOnlyList<string> tokens, int count, Action<long> onCreated)
    {
        var next = -1;
        var workers = Enumerable.Range(0, 16).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) < count)
            {
                try
                {
                    using var response = await app.PlaceOrderAsync(tokens[next % tokens.Count]);
                    if (response.StatusCode == HttpStatusCode.Created) onCreated(await OrderId(response));
                }
                catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
                {
                    return; // the app is gone
                }
            }
        });
        await Task.WhenAll(workers);
    }

    private static async Task<long> OrderId(HttpResponseMessage created) =>
        (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();

    /// <summary>Read from PostgreSQL before anything restarts: the kill must have interrupted work, or it proves nothing.</summary>
    private async Task AssertWorkWasPending(EventLog log)
    {
        await Report(log, "after the kill");
        (await log.Pending()).ShouldBeGreaterThan(0, "nothing was pending at the kill (no unsent outbox envelope, no event without a notification)");
    }

    private async Task Report(EventLog log, string when) =>
        output.WriteLine($"{when}: {await log.Orders()} orders, {await log.Events()} events, {await log.CreatedNotifications()} ORDER_CREATED notifications, {await log.Unnotified()} events without a notification, {await log.UnsentOutbox()} unsent outbox envelopes");

    private async Task AssertEveryAcceptedOrderStoredAndNotifiedOnce(EventLog log, IReadOnlyCollection<long> accepted)
    {
        await Report(log, "at the end");
        var stored = await log.StoredOrderIds();
        accepted.Where(id => !stored.Contains(id)).ShouldBeEmpty("orders answered 201 that are not stored");
        (await log.OrdersWithoutExactlyOneCreatedNotification()).ShouldBe(0, "stored orders without exactly one ORDER_CREATED notification");
        (await log.CreatedNotifications()).ShouldBe(stored.Count, "ORDER_CREATED notifications and stored orders differ");
        (await log.Orphans()).ShouldBe(0, "a notification without a logged event");
    }

    /// <summary>How long after <paramref name="since"/> the condition held, or null at the deadline (default <see cref="RecoveryDeadline"/>).</summary>
    private static async Task<TimeSpan?> WaitFor(Func<Task<bool>> condition, DateTime since, TimeSpan? deadline = null)
    {
        while (DateTime.UtcNow - since < (deadline ?? RecoveryDeadline))
        {
            if (await condition()) return DateTime.UtcNow - since;
            await Task.Delay(100); // polling interval of an external condition
        }

        return null;
    }
}
