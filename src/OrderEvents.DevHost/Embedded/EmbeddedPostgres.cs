using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace OrderEvents.DevHost.Embedded;

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
    private readonly bool _asPostgresUser;
    private readonly bool _stopWhenAdopted;
    private ILogger _logger;
    private string? _binDirectory;

    // Stopped on dispose only when this process started it, or adopted it from a dead app (no other OrderEvents
    // client connected, no development host serving on the folder): a command run beside a `dotnet run` of the same
    // checkout must not shut its database down.
    private bool _ownsServer;

    private EmbeddedPostgres(string dataDirectory, bool throwaway, ILogger logger, bool stopWhenAdopted = true)
    {
        _dataDirectory = Path.GetFullPath(dataDirectory);
        _throwaway = throwaway;
        _logger = logger;
        _stopWhenAdopted = stopWhenAdopted;
        _asPostgresUser = RunsAsPostgresAccount;
    }

    /// <summary>The host's logger, once the host exists (the server is planned before it).</summary>
    public void UseLogger(ILogger logger) => _logger = logger;

    // Looked up when a tool first runs: a planned server that never starts (`help` on a machine without PostgreSQL)
    // needs no binaries.
    private string BinDirectory => _binDirectory ??= FindBinaries() ?? throw new InvalidOperationException(
        "No PostgreSQL server binaries (initdb, pg_ctl) were found on PATH or in /usr/lib/postgresql/*/bin. " +
        "Install them (Debian/Ubuntu: `apt-get install postgresql`) or point the service at a server with " +
        "ConnectionStrings__Postgres=\"Host=...;Database=...;Username=...;Password=...\".");

    public string ConnectionString { get; private set; } = "";

    public int Port { get; private set; }

    /// <summary>Where shared, per-checkout data folders go when the checkout itself is out of the postgres account's reach.</summary>
    public const string SharedDataRoot = "/var/lib/orderevents";

    /// <summary>
    /// The data folder of `dotnet run` when EmbeddedPostgres__DataDirectory is not set: &lt;content root&gt;/.data/postgres,
    /// next to the checkout, whenever the account that runs the server can reach it. That is always the case for a
    /// normal user (the server runs as that user). As root the server runs as the postgres account, which cannot enter
    /// a private folder such as /root (mode 0700): then the data lives in /var/lib/orderevents/&lt;checkout&gt;-&lt;hash&gt;,
    /// the system's place for a service's persistent state, one folder per checkout path (two checkouts never share a
    /// database), surviving reboots (unlike /tmp). Nothing is created here; the server's start logs the choice.
    /// </summary>
    public static string DefaultDataDirectory(string contentRoot)
    {
        contentRoot = Path.GetFullPath(contentRoot);
        var besideTheCheckout = Path.Combine(contentRoot, ".data", "postgres");
        if (!RunsAsPostgresAccount || PostgresAccountCanEnter(contentRoot)) return besideTheCheckout;
        return SharedDataDirectoryFor(contentRoot);
    }

    /// <summary>/var/lib/orderevents/&lt;last folder names of the checkout&gt;-&lt;hash of its full path&gt;/postgres.</summary>
    public static string SharedDataDirectoryFor(string contentRoot)
    {
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(contentRoot)))[..10];
        var readable = string.Join('-', contentRoot.Split('/', StringSplitOptions.RemoveEmptyEntries).TakeLast(3));
        var safe = new string(readable.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_').ToArray());
        return Path.Combine(SharedDataRoot, $"{safe}-{hash}", "postgres");
    }

    /// <summary>initdb and postgres refuse to run as root: as root, they run as the postgres account.</summary>
    private static bool RunsAsPostgresAccount => Environment.UserName == "root";

    /// <summary>Whether the postgres account can traverse every folder down to <paramref name="directory"/>.</summary>
    private static bool PostgresAccountCanEnter(string directory) =>
        Exec("runuser", ["-u", "postgres", "--", "test", "-x", directory], allowFailure: true).ExitCode == 0;

    /// <summary>
    /// The server whose data lives in <paramref name="dataDirectory"/>, not started yet: its address is fixed now (the
    /// port of the server already running on that folder, else a free one) and <see cref="EnsureStarted"/> starts it.
    /// Every command builds the app (and Marten's options, which need the connection string); only those that use the
    /// database start it.
    /// </summary>
    /// <param name="stopWhenAdopted">False: a server found running is used and never stopped by this object.</param>
    public static EmbeddedPostgres Planned(string dataDirectory, bool stopWhenAdopted = true)
    {
        var server = new EmbeddedPostgres(dataDirectory, throwaway: false, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, stopWhenAdopted);
        server.Port = server.PortInPidFile() ?? FreePort();
        server.ConnectionString = ConnectionStringFor(server.Port, DatabaseName);
        return server;
    }

    // Start and stop can race: a signal handler stops the server on its own thread.
    private readonly Lock _startLock = new();
    private bool _started;

    /// <summary>Starts the server unless this object already did (or adopted it).</summary>
    public void EnsureStarted()
    {
        lock (_startLock)
        {
            if (!_started) Start();
        }
    }

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
            if (Port != 0 && Port != running)
                throw new InvalidOperationException(
                    $"Another process started the PostgreSQL server on {_dataDirectory} (port {running}) while this app was starting on port {Port}: start the app again.");
            Port = running;
            // A previous run was killed before it could stop its server, or another instance of the app is using it.
            _ownsServer = _stopWhenAdopted && !OtherAppsConnected();
            _logger.LogInformation("Adopted the PostgreSQL server already running on {DataDirectory} ({Ownership})",
                _dataDirectory, _ownsServer ? "it will be stopped with this app" : "another app instance uses it, it stays running");
        }
        else
        {
            var stalePid = Path.Combine(_dataDirectory, "postmaster.pid");
            if (File.Exists(stalePid)) File.Delete(stalePid);

            // A server restarted by the same instance keeps its port, so its clients' connection strings still work.
            if (Port == 0) Port = FreePort();
            // TCP only (no Unix socket): socket paths are limited to ~100 characters and the data folder may be deeper.
            var options = $"-p {Port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=200" +
                          (_throwaway ? " -c fsync=off -c synchronous_commit=off -c full_page_writes=off" : "");
            var log = Path.Combine(_dataDirectory, "server.log");
            var (exitCode, output) = Run("pg_ctl", ["-D", _dataDirectory, "-l", log, "-o", options, "-w", "-t", "60", "start"], allowFailure: true);
            if (exitCode != 0)
            {
                var serverLog = File.Exists(log) ? string.Join('\n', File.ReadLines(log).TakeLast(15)) : "(no server.log)";
                throw new InvalidOperationException($"PostgreSQL did not start on {_dataDirectory}: {output}\n{serverLog}");
            }

            _ownsServer = true;
        }

        ConnectionString = ConnectionStringFor(Port, DatabaseName);
        EnsureDatabase();
        _started = true;
        if (_dataDirectory.StartsWith(SharedDataRoot + "/", StringComparison.Ordinal))
            _logger.LogInformation(
                "The postgres account cannot enter the checkout (e.g. a home folder with mode 0700), so the embedded server keeps its data under {SharedDataRoot}",
                SharedDataRoot);
        if (_throwaway)
            _logger.LogInformation("Embedded PostgreSQL ready on 127.0.0.1:{Port} (throwaway data: {DataDirectory}) in {Elapsed} ms",
                Port, _dataDirectory, stopwatch.ElapsedMilliseconds);
        else
            _logger.LogInformation(
                "Embedded PostgreSQL ready on 127.0.0.1:{Port} in {Elapsed} ms. Data: {DataDirectory} (kept between runs; to reset, " +
                "stop the app and delete that folder; to move it, set EmbeddedPostgres__DataDirectory)",
                Port, stopwatch.ElapsedMilliseconds, _dataDirectory);
    }

    /// <summary>Stops the server, whoever started it.</summary>
    public void Stop()
    {
        if (!File.Exists(Path.Combine(_dataDirectory, "postmaster.pid"))) return;
        Run("pg_ctl", ["-D", _dataDirectory, "-m", "fast", "-w", "stop"]);
    }

    /// <summary>Stops the server if this object started it (or adopted it from a dead app); safe to call again.</summary>
    public void Dispose()
    {
        lock (_startLock)
        {
            try
            {
                if (_ownsServer) Stop();
                _ownsServer = false;
                _started = false;
            }
            catch (Exception e)
            {
                _logger.LogWarning(e, "Stopping the embedded PostgreSQL server failed");
            }

            // (A run killed before this point leaves its folder behind; the next throwaway start sweeps it.)
            if (_throwaway && Directory.Exists(_dataDirectory)) Directory.Delete(_dataDirectory, recursive: true);
        }
    }

    private void InitializeCluster()
    {
        Directory.CreateDirectory(_dataDirectory);
        if (_asPostgresUser)
        {
            Exec("chown", ["-R", "postgres:postgres", _dataDirectory]);
            if (Exec("runuser", ["-u", "postgres", "--", "test", "-w", _dataDirectory], allowFailure: true).ExitCode != 0)
                throw new InvalidOperationException(
                    $"The postgres account cannot reach {_dataDirectory} (a parent folder is private, e.g. under /root). " +
                    $"Set EmbeddedPostgres__DataDirectory to a folder it can reach (unset, the app picks one under {SharedDataRoot}), " +
                    "or set ConnectionStrings__Postgres.");
        }

        Run("initdb", ["-D", _dataDirectory, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"]);
    }

    /// <summary>The port of a server already running on this data directory, if any (line 4 of postmaster.pid).</summary>
    private int? RunningPort()
    {
        if (PortInPidFile() is not { } port) return null;
        return Run("pg_ctl", ["-D", _dataDirectory, "status"], allowFailure: true).ExitCode == 0 ? port : null;
    }

    /// <summary>Line 4 of postmaster.pid, whether or not that server still runs (a file read, no process started).</summary>
    private int? PortInPidFile()
    {
        var pidFile = Path.Combine(_dataDirectory, "postmaster.pid");
        try
        {
            var lines = File.Exists(pidFile) ? File.ReadAllLines(pidFile) : [];
            return lines.Length > 3 && int.TryParse(lines[3], out var port) ? port : null;
        }
        catch (UnauthorizedAccessException)
        {
            return null; // the data folder belongs to the postgres account and is private: Start() runs pg_ctl as it
        }
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
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // In use, already gone or not ours: not ours to worry about.
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

    private (int ExitCode, string Output) Run(string tool, string[] arguments, bool allowFailure = false)
    {
        var executable = Path.Combine(BinDirectory, tool);
        return _asPostgresUser
            ? Exec("runuser", ["-u", "postgres", "--", executable, .. arguments], allowFailure)
            : Exec(executable, arguments, allowFailure);
    }

    private static (int ExitCode, string Output) Exec(string file, string[] arguments, bool allowFailure = false)
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
