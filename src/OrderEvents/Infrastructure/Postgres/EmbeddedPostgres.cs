using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace OrderEvents.Infrastructure.Postgres;

/// <summary>
/// A real PostgreSQL server run from the machine's own binaries (initdb/pg_ctl), for the zero-configuration
/// `dotnet run` and for tests on machines without Docker. The data directory survives restarts of the app;
/// a server left running by a killed app is adopted, and a stale postmaster.pid is cleared.
/// </summary>
public sealed class EmbeddedPostgres : IDisposable
{
    public const string DatabaseName = "orderevents";

    private readonly string _dataDirectory;
    private readonly bool _throwaway;
    private readonly ILogger _logger;
    private readonly string _binDirectory;
    private readonly bool _asPostgresUser;

    // Stopped on dispose only when this process started it, or adopted it from a dead app (no other OrderEvents
    // client connected): a second `dotnet run` of the same checkout must not shut the first one's database down.
    private bool _ownsServer;

    private EmbeddedPostgres(string dataDirectory, bool throwaway, ILogger logger)
    {
        _dataDirectory = Path.GetFullPath(dataDirectory);
        _throwaway = throwaway;
        _logger = logger;
        _binDirectory = FindBinaries() ?? throw new InvalidOperationException(
            "No PostgreSQL server binaries (initdb, pg_ctl) were found on PATH or in /usr/lib/postgresql/*/bin. " +
            "Install them (Debian/Ubuntu: `apt-get install postgresql`) or point the service at a server with " +
            "ConnectionStrings__Postgres=\"Host=...;Database=...;Username=...;Password=...\".");
        // initdb and postgres refuse to run as root: run them as the postgres account instead.
        _asPostgresUser = Environment.UserName == "root";
    }

    public string ConnectionString { get; private set; } = "";

    public int Port { get; private set; }

    public string DataDirectory => _dataDirectory;

    /// <summary>Starts (creating on first use) the server whose data lives in <paramref name="dataDirectory"/>.</summary>
    public static EmbeddedPostgres StartPersistent(string dataDirectory, ILogger logger)
    {
        var server = new EmbeddedPostgres(dataDirectory, throwaway: false, logger);
        server.Start();
        return server;
    }

    /// <summary>A cluster in a fresh temporary folder, tuned for speed (fsync off) and removed on dispose.</summary>
    public static EmbeddedPostgres StartThrowaway(ILogger logger)
    {
        RemoveAbandonedThrowawayClusters();
        var folder = Path.Combine(Path.GetTempPath(), "orderevents-pg-" + Guid.NewGuid().ToString("N")[..12]);
        var server = new EmbeddedPostgres(folder, throwaway: true, logger);
        server.Start();
        return server;
    }

    public void Start()
    {
        var stopwatch = Stopwatch.StartNew();
        if (!File.Exists(Path.Combine(_dataDirectory, "PG_VERSION"))) InitializeCluster();

        if (RunningPort() is { } running && CanConnect(running))
        {
            Port = running;
            // A previous run was killed before it could stop its server, or another instance of the app is using it.
            _ownsServer = !OtherAppsConnected();
            _logger.LogInformation("Adopted the PostgreSQL server already running on {DataDirectory} ({Ownership})",
                _dataDirectory, _ownsServer ? "it will be stopped with this app" : "another app instance uses it, it stays running");
        }
        else
        {
            var stalePid = Path.Combine(_dataDirectory, "postmaster.pid");
            if (File.Exists(stalePid)) File.Delete(stalePid);

            // A server restarted by the same instance keeps its port, so its clients' connection strings still work.
            Port = Port != 0 ? Port : FreePort();
            // TCP only (no Unix socket): socket paths are limited to ~100 characters and the data folder may be deeper.
            var options = $"-p {Port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=200" +
                          (_throwaway ? " -c fsync=off -c synchronous_commit=off -c full_page_writes=off" : "");
            var log = Path.Combine(_dataDirectory, "server.log");
            var (exitCode, output) = Run("pg_ctl", allowFailure: true, "-D", _dataDirectory, "-l", log, "-o", options, "-w", "-t", "60", "start");
            if (exitCode != 0)
            {
                var serverLog = File.Exists(log) ? string.Join('\n', File.ReadLines(log).TakeLast(15)) : "(no server.log)";
                throw new InvalidOperationException($"PostgreSQL did not start on {_dataDirectory}: {output}\n{serverLog}");
            }

            _ownsServer = true;
        }

        ConnectionString = ConnectionStringFor(Port, DatabaseName);
        EnsureDatabase();
        _logger.LogInformation("Embedded PostgreSQL ready on 127.0.0.1:{Port} (data: {DataDirectory}) in {Elapsed} ms",
            Port, _dataDirectory, stopwatch.ElapsedMilliseconds);
    }

    /// <summary>Stops the server, whoever started it.</summary>
    public void Stop()
    {
        if (!File.Exists(Path.Combine(_dataDirectory, "postmaster.pid"))) return;
        Run("pg_ctl", "-D", _dataDirectory, "-m", "fast", "-w", "stop");
    }

    public void Dispose()
    {
        try
        {
            if (_ownsServer) Stop();
        }
        catch (Exception e)
        {
            _logger.LogWarning(e, "Stopping the embedded PostgreSQL server failed");
        }

        // (A run killed before this point leaves its folder behind; the next throwaway start sweeps it.)
        if (_throwaway && Directory.Exists(_dataDirectory)) Directory.Delete(_dataDirectory, recursive: true);
    }

    private void InitializeCluster()
    {
        Directory.CreateDirectory(_dataDirectory);
        if (_asPostgresUser)
        {
            Exec("chown", "-R", "postgres:postgres", _dataDirectory);
            if (Exec("runuser", allowFailure: true, ["-u", "postgres", "--", "test", "-w", _dataDirectory]).ExitCode != 0)
                throw new InvalidOperationException(
                    $"The postgres account cannot reach {_dataDirectory} (a parent folder is private, e.g. under /root). " +
                    "Set EmbeddedPostgres__DataDirectory to a folder it can reach, or set ConnectionStrings__Postgres.");
        }

        Run("initdb", "-D", _dataDirectory, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync");
    }

    /// <summary>The port of a server already running on this data directory, if any (line 4 of postmaster.pid).</summary>
    private int? RunningPort()
    {
        var pidFile = Path.Combine(_dataDirectory, "postmaster.pid");
        if (!File.Exists(pidFile)) return null;
        if (Run("pg_ctl", allowFailure: true, "-D", _dataDirectory, "status").ExitCode != 0) return null;
        var lines = File.ReadAllLines(pidFile);
        return lines.Length > 3 && int.TryParse(lines[3], out var port) ? port : null;
    }

    private static string ConnectionStringFor(int port, string database) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1", Port = port, Username = "postgres", Database = database, ApplicationName = ApplicationName,
    }.ConnectionString;

    private const string ApplicationName = "OrderEvents";

    /// <summary>postmaster.pid can name a recycled pid; only a server that answers is adopted.</summary>
    private static bool CanConnect(int port)
    {
        try
        {
            using var connection = new NpgsqlConnection(ConnectionStringFor(port, "postgres") + ";Pooling=false;Timeout=3");
            connection.Open();
            return true;
        }
        catch (NpgsqlException)
        {
            return false;
        }
    }

    private bool OtherAppsConnected()
    {
        using var connection = new NpgsqlConnection(ConnectionStringFor(Port, "postgres") + ";Pooling=false");
        connection.Open();
        using var others = new NpgsqlCommand(
            "select count(*) from pg_stat_activity where application_name = @name and pid <> pg_backend_pid()", connection);
        others.Parameters.AddWithValue("name", ApplicationName);
        return (long)others.ExecuteScalar()! > 0;
    }

    /// <summary>Throwaway clusters of test runs that were killed before they could clean up (server gone, folder old).</summary>
    private static void RemoveAbandonedThrowawayClusters()
    {
        foreach (var folder in Directory.EnumerateDirectories(Path.GetTempPath(), "orderevents-pg-*"))
        {
            try
            {
                var abandoned = Directory.GetLastWriteTimeUtc(folder) < DateTime.UtcNow.AddMinutes(-10)
                                && !File.Exists(Path.Combine(folder, "postmaster.pid"));
                if (abandoned) Directory.Delete(folder, recursive: true);
            }
            catch (IOException)
            {
                // In use or already gone: not ours to worry about.
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }

    private void EnsureDatabase()
    {
        var admin = new NpgsqlConnectionStringBuilder(ConnectionString) { Database = "postgres", Pooling = false };
        using var connection = new NpgsqlConnection(admin.ConnectionString);
        connection.Open();
        using var exists = new NpgsqlCommand("select 1 from pg_database where datname = @name", connection);
        exists.Parameters.AddWithValue("name", DatabaseName);
        if (exists.ExecuteScalar() != null) return;
        using var create = new NpgsqlCommand($"create database {DatabaseName}", connection);
        create.ExecuteNonQuery();
    }

    private (int ExitCode, string Output) Run(string tool, params string[] arguments) => Run(tool, allowFailure: false, arguments);

    private (int ExitCode, string Output) Run(string tool, bool allowFailure, params string[] arguments)
    {
        var executable = Path.Combine(_binDirectory, tool);
        return _asPostgresUser
            ? Exec("runuser", allowFailure, ["-u", "postgres", "--", executable, .. arguments])
            : Exec(executable, allowFailure, arguments);
    }

    private static (int ExitCode, string Output) Exec(string file, params string[] arguments) => Exec(file, allowFailure: false, arguments);

    private static (int ExitCode, string Output) Exec(string file, bool allowFailure, string[] arguments)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        // Both streams are drained concurrently (a full pipe would block the tool). pg_ctl points the server's own
        // output at server.log, so the streams end when the tool exits.
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        process.WaitForExit();
        var output = (stderr.GetAwaiter().GetResult() + stdout.GetAwaiter().GetResult()).Trim();
        if (process.ExitCode != 0 && !allowFailure)
            throw new InvalidOperationException($"`{file} {string.Join(' ', arguments)}` failed with exit code {process.ExitCode}: {output}");

        return (process.ExitCode, output);
    }

    private static string? FindBinaries()
    {
        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, "initdb"))
            .FirstOrDefault(File.Exists);
        if (onPath != null)
        {
            // Resolve symlinks such as /usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb
            var resolved = new FileInfo(onPath).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? onPath;
            var directory = Path.GetDirectoryName(resolved)!;
            if (File.Exists(Path.Combine(directory, "pg_ctl"))) return directory;
        }

        const string debianRoot = "/usr/lib/postgresql";
        if (!Directory.Exists(debianRoot)) return null;
        return Directory.EnumerateDirectories(debianRoot)
            .Select(version => Path.Combine(version, "bin"))
            .Where(bin => File.Exists(Path.Combine(bin, "initdb")) && File.Exists(Path.Combine(bin, "pg_ctl")))
            .OrderByDescending(bin => int.TryParse(Path.GetFileName(Path.GetDirectoryName(bin)), out var major) ? major : 0)
            .FirstOrDefault();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
