using OrderEvents.Tests.Support;

namespace OrderEvents.Tests.Infrastructure;

/// <summary>
/// The child-process harness never leaves a child behind when a start or a command overruns its deadline, fails a test
/// whose app ends badly (a non-zero exit nobody asked for, no exit in time after SIGTERM), and its port sampler sees
/// what a child listened on (the positive control of every "nothing listened" check).
/// </summary>
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

    [Fact]
    public async Task an_app_that_exits_non_zero_unasked_fails_the_test_when_disposed()
    {
        // The service with no database and no broker refuses to start: exit code 1.
        var app = AppProcess.Start([], name: "refusing-" + Guid.NewGuid().ToString("N")[..8], assembly: BuiltApp.AssemblyPath);
        await app.Exited.WaitAsync(TimeSpan.FromSeconds(60));
        var failure = await Should.ThrowAsync<InvalidOperationException>(() => app.DisposeAsync().AsTask());
        failure.Message.ShouldContain("exited with code ");
        failure.Message.ShouldContain("Not set: ConnectionStrings__Postgres", customMessage: "the app's output goes with the failure");
    }

    [Fact]
    public async Task an_app_still_running_when_its_stop_time_is_up_is_killed_and_fails_the_test()
    {
        var name = "slow-stop-" + Guid.NewGuid().ToString("N")[..8];
        var broker = AppProcess.Start(["kafka-broker"], name: name);
        await broker.WaitForLineAsync(line => line.StartsWith(StandaloneBroker.Announcement, StringComparison.Ordinal), TimeSpan.FromSeconds(60), "the broker");
        broker.StopTimeout = TimeSpan.Zero; // no process exits the instant it gets SIGTERM
        var failure = await Should.ThrowAsync<TimeoutException>(() => broker.DisposeAsync().AsTask());
        failure.Message.ShouldContain("did not exit within 0 s of SIGTERM");
        AppProcess.Alive.ShouldNotContain(name);
    }

    [LinuxOnlyFact]
    public async Task the_port_sampler_sees_the_port_a_child_listened_on()
    {
        var broker = await StandaloneBroker.StartAsync();
        var ports = broker.BootstrapServers.Split(',').Select(address => int.Parse(address[(address.LastIndexOf(':') + 1)..])).ToList();
        // The sampler polls: give it time to see the ports while the broker runs (a broken sampler never does).
        await broker.Process.WaitUntilAsync(() => Task.FromResult(ports.All(port => broker.Process.ListeningPortsSeen.Contains(port))),
            TimeSpan.FromSeconds(30), "the port sampler to see the broker's ports");
        (await broker.Process.StopAsync()).ShouldBe(0, broker.Process.Output);
        await broker.DisposeAsync();
        broker.Process.ListeningPortsSeen.ShouldNotBeEmpty("the sampler saw no listening port of a running broker");
        ports.ShouldAllBe(port => broker.Process.ListeningPortsSeen.Contains(port), $"announced {broker.BootstrapServers}, sampled {string.Join(", ", broker.Process.ListeningPortsSeen)}");
    }
}
