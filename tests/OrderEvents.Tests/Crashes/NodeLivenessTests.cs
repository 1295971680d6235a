using OrderEvents.Tests.Support;
using Xunit.Abstractions;

namespace OrderEvents.Tests.Crashes;

/// <summary>
/// NodeLiveness: a node whose process died is ejected as soon as its heartbeat is late, because its PostgreSQL session
/// (and the advisory lock it holds) ended with it; a node that is only frozen (SIGSTOP: a GC pause, a stalled VM) keeps
/// its session, so only Wolverine's slower staleness rule may eject it. Two instances of the published service on one
/// database, the durable local queue instead of Kafka (the broker plays no part in node membership).
/// </summary>
[Trait("Category", "Crashes")]
[Collection(CrashCollection.Name)]
public sealed class NodeLivenessTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [LinuxOnlyFact]
    public async Task a_killed_node_is_ejected_as_dead_by_the_other_node()
    {
        await using var pair = await Pair.StartAsync(output);

        await pair.Other.KillAsync();

        var ejection = await pair.Watcher.WaitForLineAsync(line => line.Contains("Ejected ") && line.Contains($"(assigned node number {pair.OtherNode})"), Deadline, "the killed node's ejection");
        ejection.ShouldContain("Ejected dead node", customMessage: "the killed node was ejected by Wolverine's staleness rule, not as dead");
    }

    [LinuxOnlyFact]
    public async Task a_frozen_node_keeps_its_session_and_is_left_to_the_staleness_rule()
    {
        await using var pair = await Pair.StartAsync(output);

        pair.Other.Freeze();
        try
        {
            // Wolverine ejects it once its heartbeat is 2 s old on two health checks in a row; a liveness probe that
            // ignored the lock would have ejected it as dead a second or more before that.
            var ejection = await pair.Watcher.WaitForLineAsync(line => line.Contains("Ejected ") && line.Contains($"(assigned node number {pair.OtherNode})"), Deadline, "the frozen node's ejection");
            ejection.ShouldContain("Ejected stale node", customMessage: "a node whose session lives was ejected as dead");
        }
        finally
        {
            pair.Other.Thaw();
        }
    }

    private sealed class Pair : IAsyncDisposable
    {
        public required AppProcess Watcher { get; init; }
        public required AppProcess Other { get; init; }
        public required int OtherNode { get; init; }

        public static async Task<Pair> StartAsync(ITestOutputHelper output)
        {
            var settings = AppProcess.ServiceSettings(new Dictionary<string, string?>
            {
                ["ConnectionStrings__Postgres"] = await TestPostgres.CreateDatabaseAsync(),
                ["KAFKA_ENABLED"] = "false",
                ["Logging__LogLevel__Default"] = "Warning",
            });
            var service = await PublishedApp.AssemblyPathAsync();
            var watcher = await AppProcess.ServeAsync(settings, "watcher", output, assembly: service);
            var other = await AppProcess.ServeAsync(settings, "other", output, assembly: service);
            return new Pair { Watcher = watcher, Other = other, OtherNode = await other.WolverineNodeNumberAsync(Deadline) };
        }

        public async ValueTask DisposeAsync()
        {
            await Other.DisposeAsync();
            await Watcher.DisposeAsync();
        }
    }
}
