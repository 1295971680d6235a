using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace OrderEvents.Bench.Harness;

/// <summary>
/// A throwaway PostgreSQL 15 cluster for one benchmark run, with durable commits (fsync and synchronous_commit ON,
/// unlike the test clusters): commit cost is part of what is measured. TCP on a free loopback port only.
/// As root, initdb/postgres run as the postgres account (they refuse root). Stopped and deleted on dispose.
/// </summary>
public sealed class PostgresCluster : IDisposable
{
    private readonly string _bin;
    private readonly bool _asPostgres = Environment.UserName == "root";

    private PostgresCluster(string bin, string dataDirectory)
    {
        _bin = bin;
        DataDirectory = dataDirectory;
    }

    public string DataDirectory { get; }
    public int Port { get; private set; }

    public static PostgresCluster Start(string bin, TextWriter progress, bool statements = false, IReadOnlyList<string>? settings = null)
    {
        var cluster = new PostgresCluster(bin, Path.Combine(Path.GetTempPath(), "orderevents-bench-pg-" + Guid.NewGuid().ToString("N")[..10]));
        try
        {
            cluster.InitAndStart(progress, statements, settings ?? []);
            return cluster;
        }
        catch
        {
            cluster.Dispose();
            throw;
        }
    }

    public string ConnectionString(string database) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1", Port = Port, Username = "postgres", Database = database,
    }.ConnectionString;

    /// <summary>The postmaster's pid (first line of postmaster.pid); its children are the backends and workers.</summary>
    public int PostmasterPid => int.Parse(File.ReadLines(Path.Combine(DataDirectory, "postmaster.pid")).First());

    public async Task CreateDatabaseAsync(string name)
    {
        await using var connection = new NpgsqlConnection(ConnectionString("postgres") + ";Pooling=false");
        await connection.OpenAsync();
        await using var create = new NpgsqlCommand($"create database \"{name}\"", connection);
        await create.ExecuteNonQueryAsync();
    }

    /// <summary>Forgets the statement statistics (pg_stat_statements, when loaded) of every database.</summary>
    public async Task ResetStatementsAsync()
    {
        await using var connection = new NpgsqlConnection(ConnectionString("postgres"));
        await connection.OpenAsync();
        await using var create = new NpgsqlCommand("create extension if not exists pg_stat_statements; select pg_stat_statements_reset()", connection);
        await create.ExecuteNonQueryAsync();
    }

    /// <summary>The statements of a database by total execution time: calls, total and mean ms, rows, the query.</summary>
    public async Task<string> TopStatementsAsync(string database, int count = 30)
    {
        await using var connection = new NpgsqlConnection(ConnectionString("postgres"));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            select s.calls, round(s.total_exec_time::numeric, 1), round(s.mean_exec_time::numeric, 3), s.rows,
                   regexp_replace(s.query, '\s+', ' ', 'g')
              from pg_stat_statements s join pg_database d on d.oid = s.dbid
             where d.datname = $1
             order by s.total_exec_time desc limit $2
            """, connection);
        command.Parameters.AddWithValue(database);
        command.Parameters.AddWithValue(count);
        var lines = new List<string> { "| calls | total ms | mean ms | rows | statement |", "|---|---|---|---|---|" };
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            var query = reader.GetString(4);
            if (query.Length > 300) query = query[..300] + "…";
            lines.Add($"| {reader.GetInt64(0)} | {reader.GetDecimal(1)} | {reader.GetDecimal(2)} | {reader.GetInt64(3)} | `{query.Replace("|", "\\|").Replace("`", "'")}` |");
        }

        return string.Join('\n', lines);
    }

    /// <summary>pg_stat_database.xact_commit of a database (read from the postgres database, so reading adds none).</summary>
    public async Task<long> CommitsAsync(string database)
    {
        await using var connection = new NpgsqlConnection(ConnectionString("postgres") + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("select xact_commit from pg_stat_database where datname = $1", connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = database });
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private void InitAndStart(TextWriter progress, bool statements, IReadOnlyList<string> settings)
    {
        var stopwatch = Stopwatch.StartNew();
        Directory.CreateDirectory(DataDirectory);
        if (_asPostgres) Exec("chown", "-R", "postgres:postgres", DataDirectory);
        Run("initdb", "-D", DataDirectory, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync");
        Port = FreePort();
        var options = $"-p {Port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=300 -c fsync=on -c synchronous_commit=on"
                      + (statements ? " -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all" : "")
                      + string.Concat(settings.Select(setting => " -c " + setting));
        Run("pg_ctl", "-D", DataDirectory, "-l", Path.Combine(DataDirectory, "server.log"), "-o", options, "-w", "-t", "60", "start");
        progress.WriteLine($"PostgreSQL cluster on 127.0.0.1:{Port} (fsync on{string.Concat(settings.Select(setting => ", " + setting))}, {DataDirectory}) in {stopwatch.ElapsedMilliseconds} ms");
    }

    public void Dispose()
    {
        try
        {
            if (File.Exists(Path.Combine(DataDirectory, "postmaster.pid")))
                Run("pg_ctl", "-D", DataDirectory, "-m", "immediate", "-w", "stop");
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"Stopping PostgreSQL failed: {e.Message}");
        }

        try
        {
            if (Directory.Exists(DataDirectory)) Directory.Delete(DataDirectory, recursive: true);
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"Removing {DataDirectory} failed: {e.Message}");
        }
    }

    private void Run(string tool, params string[] arguments)
    {
        var executable = Path.Combine(_bin, tool);
        if (_asPostgres) Exec("runuser", ["-u", "postgres", "--", executable, .. arguments]);
        else Exec(executable, arguments);
    }

    private static void Exec(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"`{file} {string.Join(' ', arguments)}` failed ({process.ExitCode}): {stderr.Result}{stdout.Result}");
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
