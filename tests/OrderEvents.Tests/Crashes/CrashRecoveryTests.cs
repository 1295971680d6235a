using System.Net;
using Confluent.Kafka;
using OrderEvents.Infrastructure.Kafka;
using OrderEvents.Tests.Support;
using Xunit.Abstractions;

namespace OrderEvents.Tests.Crashes;

/// <summary>
/// The product's promise under SIGKILL: the built app is killed in the middle of a burst of orders, started again,
/// and every order stored must end with exactly one ORDER_CREATED notification, none doubled. Recovery times are
/// printed (the targets are in seconds; the deadlines here only catch a minute-long wait or a loss).
/// </summary>
[Trait("Category", "Crashes")]
[Trait("Category", "Faults")]
[Collection(CrashCollection.Name)]
public sealed class CrashRecoveryTests(ITestOutputHelper output)
{
    private const int BurstSize = 240;
    private const int KillAfter = 90;
    private static readonly TimeSpan RecoveryDeadline = TimeSpan.FromSeconds(45);

    [Fact]
    public async Task killed_mid_burst_on_the_embedded_broker_every_stored_order_gets_its_notification_after_the_restart()
    {
        var database = await TestPostgres.CreateDatabaseAsync();
        var log = new EventLog(database);
        var settings = new Dictionary<string, string> { ["ConnectionStrings__Postgres"] = database };

        await using (var app = new AppProcess("app", settings, output))
        {
            await app.StartAsync();
            await BurstThenKill(app, await Tokens(app));
        }

        await Report(log, "after the kill");
        await using var restarted = new AppProcess("app (restarted)", settings, output);
        var restartedAt = DateTime.UtcNow;
        await restarted.StartAsync();
        var answering = DateTime.UtcNow - restartedAt;
        var recovered = await log.WaitUntilEveryEventIsNotified(restartedAt, RecoveryDeadline);
        output.WriteLine($"Every event notified {recovered?.TotalSeconds:0.0} s after the restart (the app answered HTTP after {answering.TotalSeconds:0.0} s)");

        recovered.ShouldNotBeNull($"events still without a notification {RecoveryDeadline.TotalSeconds} s after the restart:\n{restarted.Log}");
        await AssertNothingLostOrDoubled(log);
    }

    [Fact]
    public async Task killed_mid_burst_with_a_broker_that_outlives_it_the_outbox_left_behind_is_sent_within_seconds_of_the_restart()
    {
        var database = await TestPostgres.CreateDatabaseAsync();
        var log = new EventLog(database);
        await using var broker = await StandaloneBroker.StartAsync();
        var settings = new Dictionary<string, string>
        {
            ["ConnectionStrings__Postgres"] = database,
            ["KAFKA_BROKERS"] = broker.BootstrapServers,
            ["KAFKA_GROUP_ID"] = "crash-" + Guid.NewGuid().ToString("N")[..8],
        };

        await using (var app = new AppProcess("app", settings, output))
        {
            await app.StartAsync();
            await BurstThenKill(app, await Tokens(app));
        }

        await Report(log, "after the kill");
        await using var restarted = new AppProcess("app (restarted)", settings, output);
        var restartedAt = DateTime.UtcNow;
        await restarted.StartAsync();
        var answering = DateTime.UtcNow - restartedAt;
        var outboxEmpty = await WaitFor(async () => await log.UnsentOutbox() == 0, restartedAt);
        var recovered = await log.WaitUntilEveryEventIsNotified(restartedAt, RecoveryDeadline);
        output.WriteLine($"Outbox sent {outboxEmpty?.TotalSeconds:0.0} s and every event notified {recovered?.TotalSeconds:0.0} s after the restart (the app answered HTTP after {answering.TotalSeconds:0.0} s)");

        outboxEmpty.ShouldNotBeNull($"the dead node's outbox was not sent in time:\n{restarted.Log}");
        recovered.ShouldNotBeNull($"events still without a notification:\n{restarted.Log}");
        await AssertNothingLostOrDoubled(log);
    }

    [Fact]
    public async Task two_instances_one_killed_under_load_the_survivor_sends_its_outbox_takes_its_partitions_and_commits_every_offset()
    {
        var database = await TestPostgres.CreateDatabaseAsync();
        var log = new EventLog(database);
        await using var broker = await StandaloneBroker.StartAsync();
        var group = "pair-" + Guid.NewGuid().ToString("N")[..8];
        var settings = new Dictionary<string, string>
        {
            ["ConnectionStrings__Postgres"] = database,
            ["KAFKA_BROKERS"] = broker.BootstrapServers,
            ["KAFKA_GROUP_ID"] = group,
        };

        await using var survivor = new AppProcess("survivor", settings, output);
        await using var victim = new AppProcess("victim", settings, output);
        await survivor.StartAsync();
        await victim.StartAsync();
        var tokens = await Tokens(survivor);

        // Load on both; the victim dies mid-burst while the survivor keeps taking orders.
        var survivorLoad = Burst(survivor, tokens, BurstSize / 2, CancellationToken.None);
        await BurstThenKill(victim, tokens);
        var killedAt = DateTime.UtcNow;
        await survivorLoad;
        await Report(log, "after the kill");

        var outboxEmpty = await WaitFor(async () => await log.UnsentOutbox() == 0, killedAt);
        var recovered = await log.WaitUntilEveryEventIsNotified(killedAt, RecoveryDeadline);
        output.WriteLine($"Orphaned outbox sent {outboxEmpty?.TotalSeconds:0.0} s, every event notified {recovered?.TotalSeconds:0.0} s after the kill");

        // A new order after the takeover is handled by the survivor, whichever partition it lands on.
        var takeoverProbe = DateTime.UtcNow;
        for (var i = 0; i < 6; i++) (await survivor.PlaceOrderAsync(tokens[i % tokens.Count])).StatusCode.ShouldBe(HttpStatusCode.Created);
        var probesHandled = await log.WaitUntilEveryEventIsNotified(takeoverProbe, RecoveryDeadline);
        output.WriteLine($"Orders placed after the takeover notified within {probesHandled?.TotalSeconds:0.0} s");

        outboxEmpty.ShouldNotBeNull("the killed node's outbox was not sent by the survivor");
        recovered.ShouldNotBeNull($"events still without a notification:\n{survivor.Log}");
        probesHandled.ShouldNotBeNull("the survivor did not take over every partition");
        await AssertNothingLostOrDoubled(log);

        // After the rebalance every partition's committed offset reaches its end: a restart re-reads nothing.
        var committed = await WaitFor(() => Task.FromResult(CommittedUpToEnd(broker.BootstrapServers, group)), DateTime.UtcNow);
        output.WriteLine(committed is { } took
            ? $"Committed offsets reached the end of every partition {took.TotalSeconds:0.0} s after the last order was handled"
            : $"Committed offsets still behind after {RecoveryDeadline.TotalSeconds} s: {DescribeOffsets(broker.BootstrapServers, group)}");
        committed.ShouldNotBeNull($"the group's committed offsets stayed behind the handled records: {DescribeOffsets(broker.BootstrapServers, group)}");
    }

    private async Task<List<string>> Tokens(AppProcess app)
    {
        var tokens = new List<string>();
        for (var i = 0; i < 4; i++) tokens.Add(await app.RegisterAndLoginAsync($"crash-{Guid.NewGuid():N}@tests.local"));
        return tokens;
    }

    /// <summary>Fires the burst, 16 at a time, and SIGKILLs the app once <see cref="KillAfter"/> orders were accepted.</summary>
    private async Task BurstThenKill(AppProcess app, IReadOnlyList<string> tokens)
    {
        using var stop = new CancellationTokenSource();
        var accepted = 0;
        var killed = Task.CompletedTask;
        var burst = Burst(app, tokens, BurstSize, stop.Token, onCreated: () =>
        {
            if (Interlocked.Increment(ref accepted) == KillAfter) killed = app.KillAsync();
        });
        await burst;
        await killed;
        await app.KillAsync();
        output.WriteLine($"{app.Name}: {accepted} orders accepted before the kill");
    }

    private static async Task Burst(AppProcess app, IReadOnlyList<string> tokens, int count, CancellationToken cancellationToken, Action? onCreated = null)
    {
        var next = -1;
        var workers = Enumerable.Range(0, 16).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) < count && !cancellationToken.IsCancellationRequested)
            {
                try
                {
                    using var response = await app.PlaceOrderAsync(tokens[next % tokens.Count], cancellationToken);
                    if (response.StatusCode == HttpStatusCode.Created) onCreated?.Invoke();
                }
                catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
                {
                    return; // the app is gone
                }
            }
        });
        await Task.WhenAll(workers);
    }

    private async Task Report(EventLog log, string when) =>
        output.WriteLine($"{when}: {await log.Orders()} orders, {await log.Events()} events, {await log.CreatedNotifications()} ORDER_CREATED notifications, {await log.UnsentOutbox()} unsent outbox envelopes");

    private async Task AssertNothingLostOrDoubled(EventLog log)
    {
        await Report(log, "at the end");
        (await log.CreatedNotifications()).ShouldBe(await log.Orders(), "stored orders and ORDER_CREATED notifications differ");
        (await log.Orphans()).ShouldBe(0, "a notification without a logged event");
    }

    private static async Task<TimeSpan?> WaitFor(Func<Task<bool>> condition, DateTime since)
    {
        while (DateTime.UtcNow - since < RecoveryDeadline)
        {
            if (await condition()) return DateTime.UtcNow - since;
            await Task.Delay(100); // polling interval of an external condition
        }

        return null;
    }

    private static string DescribeOffsets(string bootstrapServers, string group)
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = bootstrapServers, GroupId = group, EnableAutoCommit = false }).Build();
        var partitions = Enumerable.Range(0, KafkaSettings.OrderEventsPartitions).Select(p => new TopicPartition(KafkaSettings.OrderEventsTopic, p)).ToList();
        return string.Join(", ", consumer.Committed(partitions, TimeSpan.FromSeconds(10)).Select(c =>
            $"partition {c.Partition.Value}: committed {c.Offset.Value} of {consumer.QueryWatermarkOffsets(c.TopicPartition, TimeSpan.FromSeconds(10)).High.Value}"));
    }

    private static bool CommittedUpToEnd(string bootstrapServers, string group)
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = bootstrapServers, GroupId = group, EnableAutoCommit = false }).Build();
        var partitions = Enumerable.Range(0, KafkaSettings.OrderEventsPartitions).Select(p => new TopicPartition(KafkaSettings.OrderEventsTopic, p)).ToList();
        var committed = consumer.Committed(partitions, TimeSpan.FromSeconds(10));
        return committed.All(c => c.Offset.Value == consumer.QueryWatermarkOffsets(c.TopicPartition, TimeSpan.FromSeconds(10)).High.Value);
    }
}
