using OrderEvents.Tests.Support;

namespace OrderEvents.Tests.Infrastructure;

/// <summary>The child-process harness never leaves a child behind when a start or a command overruns its deadline.</summary>
public sealed class AppProcessTests
{
    [Fact]
    public async Task a_start_that_times_out_stops_the_child_before_the_exception_leaves()
    {
        var name = "slow-start-" + Guid.NewGuid().ToString("N")[..8];
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings__Postgres"] = await TestPostgres.CreateDatabaseAsync(),
            ["KAFKA_ENABLED"] = "false",
        };
        // A real app needs seconds to answer; one second is not enough.
        await Should.ThrowAsync<TimeoutException>(() => AppProcess.ServeAsync(settings, name, timeout: TimeSpan.FromSeconds(1)));
        AppProcess.Alive.ShouldNotContain(name);
    }

    [Fact]
    public async Task a_command_that_overruns_its_deadline_is_killed()
    {
        var name = "endless-" + Guid.NewGuid().ToString("N")[..8];
        await using var broker = AppProcess.Start(["kafka-broker"], name: name); // runs until stopped
        await Should.ThrowAsync<TimeoutException>(() => broker.WaitForExitAsync(TimeSpan.FromSeconds(1)));
        broker.HasExited.ShouldBeTrue();
        AppProcess.Alive.ShouldNotContain(name);
    }
}
