using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Npgsql;
using OrderEvents.Bench.Harness;

namespace OrderEvents.Bench.Reads;

/// <summary>
/// `reads` (issue 23, item 3): does a list page cost the same for a user with a long history? One user gets
/// <see cref="ReadsOptions.Items"/> orders through the service's own API (and so as many notifications), then each list
/// is timed at its first, middle, last and past-the-end page, and each page's query plans are taken from PostgreSQL.
/// </summary>
public sealed class ReadsBench(ReadsOptions options, string repoRoot) : IDisposable
{
    private const string Database = "orderevents";
    private const string SigningKey = "orderevents-benchmark-signing-key-0123456789abcdef";
    private static readonly string[] Lists = ["/api/orders", "/api/notifications"];

    private readonly string _runDirectory = Directory.CreateTempSubdirectory("orderevents-reads-").FullName;
    private readonly string _dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";
    private readonly List<IDisposable> _owned = [];
    private readonly StringBuilder _facts = new();
    private readonly HashSet<string> _faults = [];
    private PostgresCluster? _cluster;
    private bool _disposed;

    private static TextWriter Progress => Console.Error;

    public static async Task<int> RunAsync(string[] args)
    {
        ReadsOptions options;
        try
        {
            options = ReadsOptions.Parse(args);
        }
        catch (HelpRequested)
        {
            Console.WriteLine(ReadsOptions.Usage);
            return 0;
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine(ReadsOptions.Usage);
            return 2;
        }

        var repoRoot = options.RepoRoot ?? FindRepoRoot(Directory.GetCurrentDirectory()) ?? FindRepoRoot(AppContext.BaseDirectory)
            ?? throw new InvalidOperationException("Run from inside the repository (OrderEvents.sln not found), or pass --repo DIR");
        using var bench = new ReadsBench(options, repoRoot);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, _ => bench.Dispose());
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, _ => bench.Dispose());
        string markdown;
        try
        {
            markdown = await bench.RunAsync("dotnet run -c Release --project bench/OrderEvents.Bench -- reads " + string.Join(' ', args));
        }
        catch (Exception e)
        {
            Progress.WriteLine($"FAILED: {e}");
            options.KeepLogs = true;
            return 1;
        }

        Console.WriteLine(markdown);
        if (options.Out is { } file)
        {
            var path = Path.IsPathRooted(file) ? file : Path.Combine(repoRoot, file);
            await File.WriteAllTextAsync(path, markdown);
            Progress.WriteLine($"Report written to {path}");
        }

        return 0;
    }

    private async Task<string> RunAsync(string commandLine)
    {
        var startedAt = DateTimeOffset.UtcNow;
        Fact($"Load average (1, 5, 15 min) at the start: {string.Join(", ", File.ReadAllText("/proc/loadavg").Split(' ')[..3])}.");
        var serviceDll = options.ServiceDll is { } given ? Path.GetFullPath(given) : Publish();
        _cluster = Own(PostgresCluster.Start(options.PostgresBin, Progress));
        await _cluster.CreateDatabaseAsync(Database);
        var plans = new PlanCapture(_cluster, Database);
        if (options.Plans) await plans.LoadInSessionsAsync();

        var port = PostgresCluster.FreePort();
        using var client = new ReadsClient(new Uri($"http://127.0.0.1:{port}"));
        var loader = options.LoadWithDll is { } older ? Path.GetFullPath(older) : serviceDll;
        var service = await StartServiceAsync(loader, port, "loader");
        await client.WaitUntilUpAsync(() => service.HasExited, TimeSpan.FromMinutes(2));
        await client.RegisterAndLoginAsync($"reads-{Guid.NewGuid():N}@bench.local");
        await LoadAsync(client);
        var loaded = await DatabaseNowAsync();

        if (options.LoadWithDll is not null)
        {
            // An upgrade: the measured build's schema changes applied by its own command to the loaded database.
            service.Dispose();
            var applied = await ApplySchemaAsync(serviceDll);
            Fact($"Loaded with `{loader}`, then the measured build's `db-apply` on the loaded database took {applied:F1} s.");
            service = await StartServiceAsync(serviceDll, port, "service");
            await client.WaitUntilUpAsync(() => service.HasExited, TimeSpan.FromMinutes(2));
        }

        if (options.WaitForAutovacuum)
        {
            var clock = Stopwatch.StartNew();
            await WaitForAutovacuumAsync(loaded);
            Fact($"Autovacuum (default settings) had vacuumed and analyzed both tables {clock.Elapsed.TotalSeconds:F0} s after the load.");
        }

        if (options.Vacuum)
        {
            var clock = Stopwatch.StartNew();
            await ExecuteAsync("vacuum (analyze)");
            Fact($"`VACUUM (ANALYZE)` of the database after the load: {clock.Elapsed.TotalSeconds:F1} s.");
        }

        var quiet = await WaitUntilQuietAsync(service.Pid);
        Fact(string.Create(CultureInfo.InvariantCulture,
            $"Timing started after {quiet:F0} s of waiting for the service and PostgreSQL to use < 10 % of a core over a second."));
        var timings = await TimeAsync(client);
        var captured = new List<(string Path, IReadOnlyList<string> Plans)>();
        if (options.Plans)
        {
            await plans.EnableAsync();
            foreach (var list in Lists)
            foreach (var page in options.PagesToTime)
            {
                var path = PagePath(list, page);
                captured.Add((path, await plans.PlansOfAsync(() => client.GetAsync(path), list == "/api/orders" ? "mt_doc_order" : "notifications")));
            }

            await plans.DisableAsync();
        }

        service.Dispose();
        return Report(commandLine, startedAt, serviceDll, timings, captured);
    }

    /// <summary>Creates the orders over a few connections, then waits until each has its notification.</summary>
    private async Task LoadAsync(ReadsClient client)
    {
        var clock = Stopwatch.StartNew();
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, options.Connections).Select(async _ =>
        {
            for (var n = Interlocked.Increment(ref next); n < options.Items; n = Interlocked.Increment(ref next))
            {
                await client.CreateOrderAsync(n);
                if ((n + 1) % 5000 == 0) Progress.WriteLine($"{n + 1} orders in {clock.Elapsed.TotalSeconds:F0} s");
            }
        }));
        var created = clock.Elapsed.TotalSeconds;

        while (await TotalAsync(client, "/api/notifications") < options.Items)
        {
            if (clock.Elapsed > TimeSpan.FromMinutes(10)) throw new TimeoutException("The notifications did not all arrive within 10 minutes");
            await Task.Delay(500);
        }

        Fact(string.Create(CultureInfo.InvariantCulture,
            $"Load: {options.Items:N0} orders of one user through `POST /api/orders` over {options.Connections} connections in {created:F0} s ({options.Items / created:F0}/s); all {options.Items:N0} notifications stored {clock.Elapsed.TotalSeconds:F0} s after the first order."));
    }

    /// <summary>Until the service and PostgreSQL are done with the load (JIT tiering, autovacuum, checkpoints): seconds waited.</summary>
    private async Task<double> WaitUntilQuietAsync(int servicePid)
    {
        var clock = Stopwatch.StartNew();
        double Busy() => ProcStats.CpuMilliseconds(servicePid) + ProcStats.TreeCpuMilliseconds(_cluster!.PostmasterPid);
        while (clock.Elapsed < TimeSpan.FromMinutes(2))
        {
            var before = Busy();
            await Task.Delay(1000);
            if (Busy() - before < 100) break;
        }

        return clock.Elapsed.TotalSeconds;
    }

    private static async Task<long> TotalAsync(ReadsClient client, string list) =>
        (await client.GetAsync($"{list}?pageSize=1")).Body.GetProperty("totalCount").GetInt64();

    /// <summary>
    /// A few untimed requests first (first calls, connection pools), then <see cref="ReadsOptions.Repeat"/> rounds, each
    /// over every list and page in turn, so that a disturbance hits one sample of many pages rather than all of one.
    /// Every answer is checked: its total, its length and its order.
    /// </summary>
    private async Task<Dictionary<string, List<double>>> TimeAsync(ReadsClient client)
    {
        var paths = Lists.SelectMany(list => options.PagesToTime.Select(page => PagePath(list, page))).ToList();
        foreach (var path in paths) Check(path, (await client.GetAsync(path)).Body);
        var samples = paths.ToDictionary(path => path, _ => new List<double>());
        for (var round = 0; round < options.Repeat; round++)
        foreach (var path in paths)
        {
            var (milliseconds, body) = await client.GetAsync(path);
            Check(path, body);
            samples[path].Add(milliseconds);
        }

        return samples;
    }

    private string PagePath(string list, int page) => $"{list}?page={page}&pageSize={options.PageSize}";

    /// <summary>
    /// The page holds what the API promises: the user's total, the right number of items, newest first. A page that does
    /// not is timed all the same and named in the report (once per request and kind of fault).
    /// </summary>
    private void Check(string path, JsonElement page)
    {
        var number = page.GetProperty("pageNumber").GetInt64();
        var total = page.GetProperty("totalCount").GetInt64();
        var items = page.GetProperty("items").EnumerateArray().ToList();
        var expected = Math.Clamp(options.Items - (number - 1) * options.PageSize, 0, options.PageSize);
        if (total != options.Items) Fault($"`GET {path}` answers totalCount {total}, not {options.Items}.");
        if (items.Count != expected) Fault($"`GET {path}` answers {items.Count} items, not {expected}.");
        var createdAt = items.Select(item => item.GetProperty("createdAt").GetDateTimeOffset()).ToList();
        for (var i = 1; i < createdAt.Count; i++)
            // PostgreSQL keeps microseconds: two items in the same microsecond may come in either order of their 100 ns ticks.
            if (createdAt[i] > createdAt[i - 1].AddTicks(10))
                Fault($"`GET {path}`: an item is newer than the one before it.");
    }

    private void Fault(string line)
    {
        if (_faults.Add(line)) Fact("**Unexpected answer:** " + line);
    }

    private void Fact(string line)
    {
        _facts.AppendLine($"- {line}");
        Progress.WriteLine(line);
    }

    private string Report(string commandLine, DateTimeOffset startedAt, string serviceDll,
        Dictionary<string, List<double>> timings, List<(string Path, IReadOnlyList<string> Plans)> plans)
    {
        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"#### Reads of one user with {options.Items:N0} orders and {options.Items:N0} notifications");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"- Date: {startedAt:yyyy-MM-dd HH:mm} UTC; machine: {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}");
        md.AppendLine($"- Command: `{commandLine}`");
        md.AppendLine($"- Service: `{serviceDll}` (Production, KAFKA_ENABLED=false), PostgreSQL at `{options.PostgresBin}` (fsync on)");
        md.Append(_facts);
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"Time from sending the GET to the last byte of the answer, {options.Repeat} requests per page (ms):");
        md.AppendLine();
        md.AppendLine("| request | median | min | max |");
        md.AppendLine("|---|---|---|---|");
        foreach (var (path, samples) in timings)
        {
            var sorted = samples.Order().ToList();
            md.AppendLine(CultureInfo.InvariantCulture, $"| `GET {path}` | **{Median.Of(sorted):F1}** | {sorted[0]:F1} | {sorted[^1]:F1} |");
        }

        if (plans.Count > 0)
        {
            md.AppendLine();
            md.AppendLine("Query plans (auto_explain: ANALYZE, BUFFERS; one more request per page after the timing):");
            foreach (var (path, statements) in plans)
            {
                md.AppendLine();
                md.AppendLine($"`GET {path}`:");
                md.AppendLine();
                md.AppendLine("```");
                md.AppendLine(string.Join("\n\n", statements).TrimEnd());
                md.AppendLine("```");
            }
        }

        return md.ToString();
    }

    // ---- processes -------------------------------------------------------------------------------------------

    private ChildProcess StartService(string dll, int port, string name) =>
        Own(ChildProcess.Start(_dotnet, [dll], Path.GetDirectoryName(dll)!, ServiceEnvironment(port), Path.Combine(_runDirectory, $"{name}.log")));

    private async Task<ChildProcess> StartServiceAsync(string dll, int port, string name)
    {
        await ApplySchemaAsync(dll);
        return StartService(dll, port, name);
    }

    /// <summary>As an operator outside Development: the build's own `db-apply` before it starts. Returns its seconds.</summary>
    private async Task<double> ApplySchemaAsync(string dll)
    {
        var clock = Stopwatch.StartNew();
        using var apply = ChildProcess.Start(_dotnet, [dll, "db-apply"], Path.GetDirectoryName(dll)!, ServiceEnvironment(0),
            Path.Combine(_runDirectory, $"db-apply-{Guid.NewGuid():N}.log"));
        while (!apply.HasExited && clock.Elapsed < TimeSpan.FromMinutes(10)) await Task.Delay(100);
        if (!apply.HasExited || apply.ExitCode != 0) throw new InvalidOperationException($"db-apply failed:\n{apply.Tail()}");
        return clock.Elapsed.TotalSeconds;
    }

    private Dictionary<string, string?> ServiceEnvironment(int port) => new()
    {
        ["ASPNETCORE_ENVIRONMENT"] = "Production",
        ["DOTNET_ENVIRONMENT"] = null,
        ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
        ["ConnectionStrings__Postgres"] = _cluster!.ConnectionString(Database),
        ["Jwt__SigningKey"] = SigningKey,
        // Read-only measurement: events become notifications through the local durable queue, no broker needed.
        ["KAFKA_ENABLED"] = "false",
        ["KAFKA_BROKERS"] = null,
        ["Catalog__SeedDemoProducts"] = "true",
        ["Notifications__MigrateOnStartup"] = "true",
        ["RateLimits__Auth__PermitsPerAddress"] = "100000",
        ["RateLimits__Auth__PermitsPerEmail"] = "100000",
    };

    private async Task<DateTime> DatabaseNowAsync()
    {
        await using var connection = new NpgsqlConnection(_cluster!.ConnectionString(Database));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("select now()", connection);
        return (DateTime)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Until autovacuum has vacuumed and analyzed the orders' and the notifications' tables since <paramref name="since"/>.</summary>
    private async Task WaitForAutovacuumAsync(DateTime since)
    {
        var clock = Stopwatch.StartNew();
        await using var connection = new NpgsqlConnection(_cluster!.ConnectionString(Database));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            select count(*) from pg_stat_user_tables
            where (schemaname, relname) in (('orderevents', 'mt_doc_order'), ('notifications', 'notifications'))
              and last_autovacuum > $1 and last_autoanalyze > $1
            """, connection);
        command.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = since });
        while ((long)(await command.ExecuteScalarAsync())! < 2)
        {
            if (clock.Elapsed > TimeSpan.FromMinutes(10)) throw new TimeoutException("Autovacuum did not visit both tables within 10 minutes");
            await Task.Delay(1000);
        }
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(_cluster!.ConnectionString(Database) + ";Pooling=false;Command Timeout=0");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>The same Release publish as the main benchmark (artifacts/bench/service), reused with --no-build.</summary>
    private string Publish()
    {
        var output = Path.Combine(repoRoot, "artifacts", "bench", "service");
        var dll = Path.Combine(output, "OrderEvents.dll");
        if (options.NoBuild && File.Exists(dll)) return dll;
        Progress.WriteLine($"Publishing src/OrderEvents (Release) to {output}");
        using var publish = Process.Start(new ProcessStartInfo(_dotnet)
        {
            ArgumentList = { "publish", Path.Combine(repoRoot, "src", "OrderEvents", "OrderEvents.csproj"), "-c", "Release",
                "-r", "linux-x64", "--self-contained", "false", "-o", output, "--nologo", "-v", "q" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        var stdout = publish.StandardOutput.ReadToEndAsync();
        var stderr = publish.StandardError.ReadToEndAsync();
        publish.WaitForExit();
        if (publish.ExitCode != 0) throw new InvalidOperationException($"dotnet publish failed:\n{stdout.Result}{stderr.Result}");
        return dll;
    }

    private static string? FindRepoRoot(string start)
    {
        for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "OrderEvents.sln"))) return directory.FullName;
        return null;
    }

    private T Own<T>(T disposable) where T : IDisposable
    {
        lock (_owned) _owned.Add(disposable);
        return disposable;
    }

    /// <summary>Stops the services and removes the cluster; idempotent (also runs on Ctrl+C and SIGTERM).</summary>
    public void Dispose()
    {
        lock (_owned)
        {
            if (_disposed) return;
            _disposed = true;
            if (options.KeepLogs && _cluster is not null && File.Exists(Path.Combine(_cluster.DataDirectory, "server.log")))
                File.Copy(Path.Combine(_cluster.DataDirectory, "server.log"), Path.Combine(_runDirectory, "postgres.log"), overwrite: true);
            for (var i = _owned.Count - 1; i >= 0; i--)
            {
                try
                {
                    _owned[i].Dispose();
                }
                catch (Exception e)
                {
                    Console.Error.WriteLine($"Cleanup: {e.Message}");
                }
            }
        }

        if (options.KeepLogs) Progress.WriteLine($"Logs kept in {_runDirectory}");
        else Directory.Delete(_runDirectory, recursive: true);
    }
}
