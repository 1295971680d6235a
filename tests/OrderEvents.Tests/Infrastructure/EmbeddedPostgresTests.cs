using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using OrderEvents.DevHost.Embedded;
using OrderEvents.Tests.Support;

namespace OrderEvents.Tests.Infrastructure;

/// <summary>The zero-configuration PostgreSQL of `dotnet run`: data survives restarts and crashes.</summary>
public sealed class EmbeddedPostgresTests : IDisposable
{
    // A space and a long path on purpose: both broke earlier versions (shell quoting, Unix socket path limit).
    private readonly string _dataDirectory = Path.Combine(
        Path.GetTempPath(), "orderevents embedded test " + Guid.NewGuid().ToString("N")[..8], new string('d', 90), "postgres");

    [Fact]
    public async Task data_survives_a_stop_and_a_new_start()
    {
        using (var first = EmbeddedPostgres.StartPersistent(_dataDirectory, NullLogger.Instance))
        {
            await Sql.ExecuteAsync(first.ConnectionString, "create table kept (value text); insert into kept values ('still here')");
        }

        using var second = EmbeddedPostgres.StartPersistent(_dataDirectory, NullLogger.Instance);
        (await Sql.ScalarAsync(second.ConnectionString, "select value from kept")).ShouldBe("still here");
    }

    [Fact]
    public async Task a_server_killed_with_sigkill_leaves_a_stale_pid_file_that_the_next_start_recovers_from()
    {
        var first = EmbeddedPostgres.StartPersistent(_dataDirectory, NullLogger.Instance);
        await Sql.ExecuteAsync(first.ConnectionString, "create table kept (value text); insert into kept values ('after a crash')");
        var postmasterPid = int.Parse(File.ReadLines(Path.Combine(_dataDirectory, "postmaster.pid")).First());
        using (var postmaster = Process.GetProcessById(postmasterPid))
        {
            postmaster.Kill(); // SIGKILL: no shutdown, postmaster.pid stays behind
            await postmaster.WaitForExitAsync();
        }

        NpgsqlConnection.ClearAllPools();
        File.Exists(Path.Combine(_dataDirectory, "postmaster.pid")).ShouldBeTrue();

        using var second = EmbeddedPostgres.StartPersistent(_dataDirectory, NullLogger.Instance);
        (await Sql.ScalarAsync(second.ConnectionString, "select value from kept")).ShouldBe("after a crash");
    }

    [Fact]
    public async Task a_server_left_running_by_a_killed_app_is_adopted_and_stopped_with_its_new_owner()
    {
        var orphan = EmbeddedPostgres.StartPersistent(_dataDirectory, NullLogger.Instance); // never disposed: the "killed app"
        await Sql.ExecuteAsync(orphan.ConnectionString, "create table kept (value text); insert into kept values ('adopted')");
        NpgsqlConnection.ClearAllPools(); // the killed app's connections died with it

        using (var next = EmbeddedPostgres.StartPersistent(_dataDirectory, NullLogger.Instance))
        {
            next.Port.ShouldBe(orphan.Port);
            (await Sql.ScalarAsync(next.ConnectionString, "select value from kept")).ShouldBe("adopted");
            NpgsqlConnection.ClearAllPools();
        }

        File.Exists(Path.Combine(_dataDirectory, "postmaster.pid")).ShouldBeFalse();
    }

    [Fact]
    public async Task a_server_another_running_app_uses_is_shared_and_left_running()
    {
        using var first = EmbeddedPostgres.StartPersistent(_dataDirectory, NullLogger.Instance);
        await using var firstAppsConnection = new NpgsqlConnection(first.ConnectionString);
        await firstAppsConnection.OpenAsync();

        using (var second = EmbeddedPostgres.StartPersistent(_dataDirectory, NullLogger.Instance))
        {
            second.Port.ShouldBe(first.Port);
        }

        (await new NpgsqlCommand("select 1", firstAppsConnection).ExecuteScalarAsync()).ShouldBe(1);
    }

    [Fact]
    public async Task a_server_adopted_beside_a_running_development_host_is_left_running_even_with_no_client_connected()
    {
        using var hosts = EmbeddedPostgres.StartPersistent(_dataDirectory, NullLogger.Instance);
        NpgsqlConnection.ClearAllPools(); // not one client connected: only the flag keeps the server up

        var beside = EmbeddedPostgres.Planned(_dataDirectory, stopWhenAdopted: false);
        beside.EnsureStarted();
        beside.Port.ShouldBe(hosts.Port);
        (await Sql.ScalarAsync(beside.ConnectionString, "select 1")).ShouldBe(1);
        NpgsqlConnection.ClearAllPools();
        beside.Dispose();

        File.Exists(Path.Combine(_dataDirectory, "postmaster.pid")).ShouldBeTrue("the command stopped a server it did not start");
        (await Sql.ScalarAsync(hosts.ConnectionString, "select 1")).ShouldBe(1);
    }

    public void Dispose()
    {
        // Stops whatever server a test left running on the folder, then removes it.
        NpgsqlConnection.ClearAllPools();
        EmbeddedPostgres.StartPersistent(_dataDirectory, NullLogger.Instance).Stop();
        Directory.Delete(Path.GetDirectoryName(Path.GetDirectoryName(_dataDirectory))!, recursive: true);
    }
}
