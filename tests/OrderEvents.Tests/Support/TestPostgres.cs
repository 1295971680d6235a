using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using OrderEvents.DevHost.Embedded;
using Testcontainers.PostgreSql;

namespace OrderEvents.Tests.Support;

/// <summary>
/// One PostgreSQL server for the whole test run, and a fresh database per app fixture. The server comes from
/// TEST_POSTGRES (an existing server), else Testcontainers when a Docker engine is reachable, else a throwaway
/// local cluster run from the machine's PostgreSQL binaries (random port, temp folder, removed at the end).
/// </summary>
public static class TestPostgres
{
    private static readonly Lazy<Task<string>> Server = new(StartServerAsync);
    private static EmbeddedPostgres? _embedded;
    private static PostgreSqlContainer? _container;
    private static readonly List<string> CreatedDatabases = [];
    private static int _stopped;

    public static async Task<string> CreateDatabaseAsync()
    {
        var server = await Server.Value;
        var name = "orderevents_test_" + Guid.NewGuid().ToString("N")[..10];
        await using (var connection = new NpgsqlConnection(server))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"create database {name}", connection);
            await create.ExecuteNonQueryAsync();
        }

        lock (CreatedDatabases) CreatedDatabases.Add(name);

        return new NpgsqlConnectionStringBuilder(server) { Database = name }.ConnectionString;
    }

    private static async Task<string> StartServerAsync()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Stop();

        if (Environment.GetEnvironmentVariable("TEST_POSTGRES") is { Length: > 0 } existing) return existing;

        if (DockerLooksReachable())
        {
            try
            {
                _container = new PostgreSqlBuilder("postgres:15-alpine").Build();
                await _container.StartAsync();
                return _container.GetConnectionString();
            }
            catch (Exception)
            {
                // No usable engine after all: fall through to the local binaries.
                _container = null;
            }
        }

        _embedded = EmbeddedPostgres.StartThrowaway(NullLogger.Instance);
        return new NpgsqlConnectionStringBuilder(_embedded.ConnectionString) { Database = "postgres" }.ConnectionString;
    }

    private static void DropCreatedDatabases()
    {
        try
        {
            NpgsqlConnection.ClearAllPools();
            using var connection = new NpgsqlConnection(Server.Value.GetAwaiter().GetResult());
            connection.Open();
            lock (CreatedDatabases)
            {
                foreach (var name in CreatedDatabases)
                {
                    using var drop = new NpgsqlCommand($"drop database if exists {name} with (force)", connection);
                    drop.ExecuteNonQuery();
                }
            }
        }
        catch (NpgsqlException)
        {
            // Best effort: the server may already be gone.
        }
    }

    private static bool DockerLooksReachable() =>
        !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("DOCKER_HOST")) || File.Exists("/var/run/docker.sock");

    /// <summary>Once, at the end of the run (TestRunCleanup), or at process exit as a fallback.</summary>
    public static void Stop()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1 || !Server.IsValueCreated) return;
        if (_embedded is null && _container is null) DropCreatedDatabases(); // an existing server outlives us: tidy it
        _embedded?.Dispose();
        _container?.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
