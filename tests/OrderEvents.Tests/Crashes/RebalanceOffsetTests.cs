using System.Net;
using Confluent.Kafka;
using OrderEvents.Infrastructure.Kafka;
using OrderEvents.Tests.Support;
using Xunit.Abstractions;

namespace OrderEvents.Tests.Crashes;

/// <summary>
/// The consumer group's committed offsets after a rebalance: every partition's committed offset must reach its end
/// once the records are handled, so a later restart or rebalance re-reads nothing and the group shows no lag. The
/// broker here (librdkafka's mock cluster) refuses the commit a revoked member makes during the rebalance, so the
/// offsets stored since the last auto-commit are lost at every revocation, and the records after the committed
/// offset come back to the member when it gets the partition again: they must be committed then.
/// </summary>
[Trait("Category", "Crashes")]
[Trait("Category", "Faults")]
[Collection(CrashCollection.Name)]
public sealed class RebalanceOffsetTests(ITestOutputHelper output)
{
    /// <summary>
    /// Re-joining the group takes a few seconds on this broker and the consumer commits every 5 s (auto-commit):
    /// 30 s is several of both; a commit that never comes is what this catches.
    /// </summary>
    private static readonly TimeSpan CommitDeadline = TimeSpan.FromSeconds(30);

    /// <summary>An attempt proves nothing when an auto-commit came just before the rebalance (about every other one).</summary>
    private const int Attempts = 6;

    [Fact]
    public async Task a_member_that_joins_and_leaves_right_after_the_records_were_handled_leaves_every_partition_committed_to_its_end()
    {
        var database = await TestPostgres.CreateDatabaseAsync();
        var log = new EventLog(database);
        await using var broker = await StandaloneBroker.StartAsync();
        var group = "rebalance-" + Guid.NewGuid().ToString("N")[..8];
        var probe = new KafkaProbe(broker.BootstrapServers);
        await using var app = await AppProcess.ServeAsync(new Dictionary<string, string?>
        {
            ["ConnectionStrings__Postgres"] = database,
            ["Logging__LogLevel__Default"] = "Warning",
            ["KAFKA_BROKERS"] = broker.BootstrapServers,
            ["KAFKA_GROUP_ID"] = group,
        }, "app", output);

        // Records on every partition, all handled; then at once, before the app's next auto-commit, a second member
        // joins (the app's partitions are revoked and shared out) and leaves again (they all come back to the app),
        // with no record arriving after the revocation. The member never commits, so a partition it holds shows what
        // the app got committed before the revocation: an attempt counts once that is behind the partition's end (an
        // auto-commit that came first leaves nothing to prove, and the burst and the rebalance are tried again).
        var token = await app.RegisterAndLoginAsync($"rebalance-{Guid.NewGuid():N}@tests.local");
        IReadOnlyList<(int Partition, long Committed, long End)> caughtBehind = [];
        for (var attempt = 1; attempt <= Attempts && caughtBehind.Count == 0; attempt++)
        {
            var placed = DateTime.UtcNow;
            await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
            {
                for (var i = 0; i < 5; i++)
                {
                    using var created = await app.PlaceOrderAsync(token);
                    created.StatusCode.ShouldBe(HttpStatusCode.Created);
                }
            }));
            (await log.WaitUntilEveryEventIsNotified(placed, CommitDeadline)).ShouldNotBeNull($"the orders were not notified:\n{app.Output}");
            caughtBehind = JoinThenLeave(broker.BootstrapServers, group, probe);
            output.WriteLine($"attempt {attempt}: the second member's partitions at the rebalance: {KafkaProbe.Describe(caughtBehind)}");
            caughtBehind = caughtBehind.Where(o => o.Committed < o.End).ToList();
        }

        caughtBehind.ShouldNotBeEmpty($"in {Attempts} attempts the rebalance never came before the app's auto-commit");
        var left = DateTime.UtcNow;
        IReadOnlyList<(int Partition, long Committed, long End)> offsets = [];
        while (DateTime.UtcNow - left < CommitDeadline)
        {
            offsets = probe.GroupOffsets(group, KafkaSettings.OrderEventsTopic, KafkaSettings.OrderEventsPartitions);
            if (offsets.All(o => o.Committed == o.End)) break;
            await Task.Delay(200); // polling interval of an external condition
        }

        output.WriteLine($"{(DateTime.UtcNow - left).TotalSeconds:0.0} s after the member left: {KafkaProbe.Describe(offsets)}");
        offsets.ShouldAllBe(o => o.Committed == o.End,
            $"the group's committed offsets stayed behind the handled records {CommitDeadline.TotalSeconds} s after the rebalance: {KafkaProbe.Describe(offsets)}\n{app.Output}");
        (await log.OrdersWithoutExactlyOneCreatedNotification()).ShouldBe(0);
    }

    /// <summary>
    /// A plain member of the group (it never commits) that waits for its share of the partitions, reads their committed
    /// offsets, then leaves.
    /// </summary>
    private IReadOnlyList<(int Partition, long Committed, long End)> JoinThenLeave(string bootstrapServers, string group, KafkaProbe probe)
    {
        using var member = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = group,
            EnableAutoCommit = false,
            // The app's Development timings (appsettings.Development.json), so the group rebalances as fast for both.
            SessionTimeoutMs = 6000,
            HeartbeatIntervalMs = 500,
        }).Build();
        member.Subscribe(KafkaSettings.OrderEventsTopic);
        var deadline = DateTime.UtcNow + CommitDeadline;
        while (member.Assignment.Count == 0 && DateTime.UtcNow < deadline) member.Consume(TimeSpan.FromMilliseconds(100));
        member.Assignment.ShouldNotBeEmpty("the second member never got a partition");
        var held = member.Assignment.Select(p => p.Partition.Value).ToHashSet();
        var offsets = probe.GroupOffsets(group, KafkaSettings.OrderEventsTopic, KafkaSettings.OrderEventsPartitions)
            .Where(o => held.Contains(o.Partition)).ToList();
        member.Close();
        return offsets;
    }
}
