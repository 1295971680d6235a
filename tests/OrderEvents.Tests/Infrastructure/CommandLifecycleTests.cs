using System.Text.RegularExpressions;
using OrderEvents.DevHost.Embedded;
using OrderEvents.Tests.Support;

namespace OrderEvents.Tests.Infrastructure;

/// <summary>
/// With nothing configured (the development host's embedded PostgreSQL and broker), each command starts only what it
/// uses and stops what it started, whichever way it ends; beside a running development host it uses that host's. The harness also fails any test whose app process ends with its
/// embedded server still running (<see cref="AppProcess.DisposeAsync"/>).
/// </summary>
public sealed partial class CommandLifecycleTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task the_broker_and_the_dead_letter_commands_given_a_broker_start_no_postgresql()
    {
        await using var broker = await StandaloneBroker.StartAsync();
        foreach (var command in new[] { "dlq-list", "dlq-redrive --all" })
        {
            await using var cli = AppProcess.Start([.. command.Split(' '), "--brokers", broker.BootstrapServers], name: command);
            (await cli.WaitForExitAsync(Deadline)).ShouldBe(0, cli.Output);
            cli.EmbeddedServerCreated.ShouldBeFalse($"{command} --brokers started an embedded PostgreSQL");
        }

        (await broker.Process.StopAsync()).ShouldBe(0, broker.Process.Output);
        broker.Process.EmbeddedServerCreated.ShouldBeFalse("kafka-broker started an embedded PostgreSQL");
    }

    [Fact]
    public async Task a_database_command_starts_the_server_and_stops_it_when_it_ends()
    {
        await using var apply = AppProcess.Start(["db-apply"], name: "db-apply");
        (await apply.WaitForExitAsync(Deadline)).ShouldBe(0, apply.Output);
        apply.EmbeddedServerCreated.ShouldBeTrue("db-apply used the embedded PostgreSQL");
        apply.EmbeddedServerRunning.ShouldBeFalse("db-apply left its PostgreSQL running");
    }

    [Fact]
    public async Task a_command_that_fails_before_any_host_exists_stops_the_server()
    {
        // `replay` uses the database; a bad --since ends it before it builds or starts a host. It publishes to a running
        // broker (none is started for it): an address is enough, it never gets to connect.
        await using var replay = AppProcess.Start(["replay", "--since", "yesterday-ish"],
            new Dictionary<string, string?> { ["KAFKA_BROKERS"] = "127.0.0.1:9" }, name: "replay");
        (await replay.WaitForExitAsync(Deadline)).ShouldNotBe(0, replay.Output);
        replay.Output.ShouldContain("is not a date and time");
        replay.EmbeddedServerCreated.ShouldBeTrue();
        replay.EmbeddedServerRunning.ShouldBeFalse("the command's early return left PostgreSQL running");
    }

    [Fact]
    public async Task sigterm_during_a_database_command_stops_the_server_before_the_process_ends()
    {
        await using var apply = AppProcess.Start(["db-apply"], name: "db-apply");
        // The server is up and db-apply is now changing the schema (seconds on a fresh database): stop it right there.
        await apply.WaitForLineAsync(line => line.Contains("Embedded PostgreSQL ready"), Deadline, "the embedded PostgreSQL to start");
        apply.Signal("TERM");
        var exitCode = await apply.WaitForExitAsync(Deadline);
        apply.EmbeddedServerRunning.ShouldBeFalse($"SIGTERM (exit code {exitCode}) left PostgreSQL running");
        apply.Lines.ShouldNotContain(line => line.Contains("Successfully applied"), "db-apply finished before the signal: the test proved nothing");
    }

    [Theory]
    [InlineData("INT")] // Ctrl+C
    [InlineData("TERM")] // docker stop, systemd
    public async Task a_running_app_stopped_by_a_signal_stops_its_server(string signal)
    {
        await using var app = await AppProcess.ServeAsync(new Dictionary<string, string?> { ["KAFKA_ENABLED"] = "false" }, $"app (SIG{signal})");
        app.EmbeddedServerRunning.ShouldBeTrue();
        app.Signal(signal);
        (await app.WaitForExitAsync(Deadline)).ShouldBe(0, app.Output);
        app.EmbeddedServerRunning.ShouldBeFalse($"SIG{signal} left PostgreSQL running");
        // The server goes after the app's graceful shutdown (Wolverine releases its node and envelopes), not under it.
        var lines = app.Lines;
        Enumerable.Range(0, lines.Count)
            .Where(i => (lines[i].StartsWith("fail:") || lines[i].StartsWith("crit:")) && !IsCancelledOrphanSweep(lines, i))
            .ShouldBeEmpty(app.Output);
    }

    [Fact]
    public async Task ctrl_c_on_the_default_run_stops_without_a_kafka_client_complaining_about_its_broker()
    {
        // The default run: the embedded broker in this process, Wolverine's Kafka clients connected to it.
        await using var app = await AppProcess.ServeAsync(name: "app with its broker (SIGINT)");
        var before = app.Lines.Count;
        app.Signal("INT");
        (await app.WaitForExitAsync(Deadline)).ShouldBe(0, app.Output);
        // librdkafka writes its own lines ("%3|…|ERROR|…| 1/1 brokers are down") when a broker goes away under a client.
        app.Lines.Skip(before).Where(line => LibrdkafkaLine().IsMatch(line)).ShouldBeEmpty(app.Output);
    }

    [GeneratedRegex(@"^%\d\|")]
    private static partial Regex LibrdkafkaLine();

    /// <summary>
    /// Wolverine 6.62 (and 6.64) logs its orphaned-envelope sweep at Error when the stop cancels it mid-query: its catch
    /// takes every exception, the cancellation included. That one line says nothing about the app's shutdown.
    /// </summary>
    private static bool IsCancelledOrphanSweep(IReadOnlyList<string> lines, int i) =>
        lines[i].Contains("Wolverine.RDBMS.DurabilityAgent")
        && lines.Skip(i + 1).Take(2).Any(l => l.Contains("Error determining orphaned message owners"))
        && lines.Skip(i + 1).Take(3).Any(l => l.Contains("OperationCanceledException"));

    [Fact]
    public async Task a_command_beside_a_running_development_host_uses_its_broker_and_never_stops_its_postgresql()
    {
        await using var host = await AppProcess.ServeAsync(name: "dev host");
        host.EmbeddedServerRunning.ShouldBeTrue();
        File.Exists(RunningDevHost.FileFor(host.EmbeddedDataDirectory)).ShouldBeTrue("the serving host announces itself");
        var beside = new Dictionary<string, string?> { ["EmbeddedPostgres__DataDirectory"] = host.EmbeddedDataDirectory };

        // No KAFKA_BROKERS, no --brokers: the running host's broker (without it, "No broker to read" and exit code 1).
        await using (var list = AppProcess.Start(["dlq-list"], beside, "dlq-list beside the host"))
        {
            (await list.WaitForExitAsync(Deadline)).ShouldBe(0, list.Output);
            list.Output.ShouldContain("0 dead letter(s)");
        }

        await using (var apply = AppProcess.Start(["db-apply"], beside, "db-apply beside the host"))
        {
            (await apply.WaitForExitAsync(Deadline)).ShouldBe(0, apply.Output);
            apply.Output.ShouldContain("another app instance uses it, it stays running");
        }

        host.EmbeddedServerRunning.ShouldBeTrue("a command beside the development host stopped its PostgreSQL");
        (await host.Client.GetAsync("/api/products")).IsSuccessStatusCode.ShouldBeTrue();
        (await host.StopAsync()).ShouldBe(0, host.Output);
        File.Exists(RunningDevHost.FileFor(host.EmbeddedDataDirectory)).ShouldBeFalse("the host withdraws its file when it stops");
    }
}
