using System.Diagnostics;
using System.Globalization;
using Npgsql;
using OrderEvents.Bench.Harness;
using OrderEvents.Bench.Load;
using OrderEvents.Bench.Profiling;
using OrderEvents.Bench.Targets;

namespace OrderEvents.Bench;

/// <summary>
/// One benchmark run: publish the service, start a PostgreSQL cluster and the service's standalone broker, then measure
/// each target in turn (only one runs at a time, so CPU and commits are its own) and report them side by side.
/// </summary>
public sealed class BenchRun(BenchOptions options, string repoRoot) : IDisposable
{
    private const string ServiceDatabase = "orderevents";
    private const string BaselineDatabase = "baseline";
    // Both targets sign and validate with this key (the service refuses a missing key outside Development).
    private const string SigningKey = "orderevents-benchmark-signing-key-0123456789abcdef";
    // After traffic stops, backends flush their statistics within a second (PGSTAT_MIN_INTERVAL).
    private static readonly TimeSpan StatsSettle = TimeSpan.FromMilliseconds(1200);

    private readonly string _runDirectory = Directory.CreateTempSubdirectory("orderevents-bench-").FullName;
    private readonly List<IDisposable> _owned = [];
    private PostgresCluster? _cluster;
    private string _bootstrap = "";
    private string _serviceDll = "";
    private readonly string _dotnet = FindDotnet();
    private readonly MachineProbe _probe = new();
    private bool _disposed;
    // --profile: the burst's profiler of the target being measured, and where its files go.
    private CostProfiler? _profiler;
    private readonly string _profileRoot = Path.Combine(repoRoot, "artifacts", "profile", DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));

    public TextWriter Progress { get; } = Console.Error;

    public async Task<List<TargetResult>> RunAsync()
    {
        _serviceDll = options.ServiceDll is { } given ? Path.GetFullPath(given) : PublishService();
        _cluster = Own(PostgresCluster.Start(options.PostgresBin, Progress, options.Statements || options.Profile, options.PostgresSettings));
        await _cluster.CreateDatabaseAsync(ServiceDatabase);
        await _cluster.CreateDatabaseAsync(BaselineDatabase);
        _bootstrap = await StartBrokerAsync();
        if (options.Rounds > 0) return await RunRoundsAsync();

        var results = new List<TargetResult>();
        foreach (var name in options.Targets)
        {
            var result = new TargetResult(name);
            results.Add(result);
            try
            {
                using var target = Own(await StartTargetAsync(name));
                if (options.Statements) await _cluster.ResetStatementsAsync();
                await MeasureTargetAsync(target, result);
                if (_profiler is { } profiler) result.Profile = await profiler.AnalyzeAsync(result.Burst!, Progress);
                if (options.Statements) await WriteStatementsAsync(target);
            }
            catch (Exception e)
            {
                result.Failure = e.Message;
                Progress.WriteLine($"[{name}] FAILED: {e}");
                Progress.WriteLine($"Logs kept in {_runDirectory}");
                options.KeepLogs = true;
            }
            finally
            {
                if (_profiler is { } profiler) await profiler.DisposeAsync();
                _profiler = null;
            }
        }

        return results;
    }

    private async Task MeasureTargetAsync(TargetProcess target, TargetResult result)
    {
        var log = (string line) => Progress.WriteLine($"[{target.Name}] {line}");
        using var client = new ApiClient(target.BaseAddress, options.RequestTimeout);
        await StartUpAsync(target, result, client);

        // Cold start: what the first seconds after a start or a deployment cost (JIT, first connections), before any warm-up.
        if (options.Cold > TimeSpan.Zero)
        {
            result.Cold = await MeasurePhaseAsync(target, $"cold start, open loop {options.Rate}/s, creates",
                () => LoadGenerator.OpenLoopAsync(client, options.Rate, options.Cold, mix: null, seed: 0), settle: false);
            log(Describe(result.Cold));
        }

        await WarmUpAsync(target, client);

        result.CreateOnly = await MeasurePhaseAsync(target, $"open loop {options.Rate}/s, creates",
            () => LoadGenerator.OpenLoopAsync(client, options.Rate, options.Duration, mix: null, seed: 2));
        log(Describe(result.CreateOnly));

        result.Mixed = await MeasurePhaseAsync(target, $"open loop {options.Rate}/s, mixed",
            () => LoadGenerator.OpenLoopAsync(client, options.Rate, options.Duration, options.Mix, seed: 3));
        log(Describe(result.Mixed));

        var rate = options.FirstStep;
        for (var step = 0; step < options.MaxSteps; step++, rate *= options.StepFactor)
        {
            var before = await CountNotificationsAsync(target);
            var traffic = await LoadGenerator.OpenLoopAsync(client, rate, options.StepDuration, mix: null, seed: 10 + step);
            var post = traffic.ByOperation[Operation.Create].Summary();
            var passed = traffic.ErrorCount == 0 && post.P99 < options.P99Limit.TotalMilliseconds && traffic.AchievedRate >= 0.95 * rate;
            result.Steps.Add(new StepResult(rate, traffic.AchievedRate, post, traffic.ErrorCount, passed));
            log(string.Create(CultureInfo.InvariantCulture, $"step {rate:F0}/s: achieved {traffic.AchievedRate:F0}/s, p99 {post.P99:F1} ms, errors {traffic.ErrorCount} -> {(passed ? "pass" : "FAIL")}"));
            var drain = await DrainAsync(target, before + traffic.ExpectedNotifications, options.DrainTimeout);
            if (!passed || !drain.Drained) break;
        }

        result.Burst = await MeasurePhaseAsync(target, $"closed loop, {options.Connections} connections",
            () => LoadGenerator.ClosedLoopAsync(client, options.Connections, options.Burst, options.MaxBurstRequests), profile: options.Profile);
        log(Describe(result.Burst));

        // Background cost (polling agents, consumers' fetch loops): CPU while nothing is sent, measured last, when the JIT
        // has long finished tiering up (right after the warm-up, tier-1 compilation alone took a quarter to half a core).
        var idleServiceCpu = ProcStats.CpuMilliseconds(target.Process.Pid);
        var idlePostgresCpu = ProcStats.TreeCpuMilliseconds(_cluster!.PostmasterPid);
        await Task.Delay(options.IdleWindow);
        result.IdleServiceCpuPercent = (ProcStats.CpuMilliseconds(target.Process.Pid) - idleServiceCpu) / options.IdleWindow.TotalMilliseconds * 100;
        result.IdlePostgresCpuPercent = (ProcStats.TreeCpuMilliseconds(_cluster.PostmasterPid) - idlePostgresCpu) / options.IdleWindow.TotalMilliseconds * 100;
        log(string.Create(CultureInfo.InvariantCulture, $"idle CPU: {result.IdleServiceCpuPercent:F1} % of a core, PostgreSQL {result.IdlePostgresCpuPercent:F1} %"));

        result.PeakRssMib = ProcStats.StatusKib(target.Process.Pid, "VmHWM") / 1024.0;
        result.EndRssMib = ProcStats.StatusKib(target.Process.Pid, "VmRSS") / 1024.0;
        log(string.Create(CultureInfo.InvariantCulture, $"peak RSS {result.PeakRssMib:F0} MiB, RSS at the end {result.EndRssMib:F0} MiB"));
    }

    /// <summary>Waits for the target's first HTTP answer (its start-up time), then registers and signs in the users.</summary>
    private async Task StartUpAsync(TargetProcess target, TargetResult result, ApiClient client)
    {
        await client.WaitUntilUpAsync(() => target.Process.HasExited, TimeSpan.FromSeconds(120));
        result.StartupSeconds = Stopwatch.GetElapsedTime(target.Process.StartedAt).TotalSeconds;
        await client.RegisterUsersAsync(options.Users, $"{target.Name}-{Guid.NewGuid():N}"[..24]);
        Progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"[{target.Name}] up on {target.BaseAddress} {result.StartupSeconds:F2} s after its start, {options.Users} users logged in"));
    }

    /// <summary>Mixed traffic until the JIT has tiered up the hot paths, its drain, then until the target is quiet.</summary>
    private async Task WarmUpAsync(TargetProcess target, ApiClient client)
    {
        var warmupRate = Math.Min(options.Rate, 200);
        var beforeWarmup = await CountNotificationsAsync(target);
        var warmup = await LoadGenerator.OpenLoopAsync(client, warmupRate, options.Warmup, options.Mix, seed: 1);
        var warmupDrain = await DrainAsync(target, beforeWarmup + warmup.ExpectedNotifications, TimeSpan.FromSeconds(120));
        Progress.WriteLine($"[{target.Name}] warm-up: {warmup.Succeeded}/{warmup.Sent} ok ({warmup.DescribeErrors()}), drained: {warmupDrain.Drained}");
        if (!warmupDrain.Drained || warmup.Succeeded == 0)
            throw new InvalidOperationException("The warm-up's events did not all become notifications within 120 s: the event pipeline is not working");
        var quiet = await WaitUntilQuietAsync(target, TimeSpan.FromSeconds(60));
        Progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{target.Name}] quiet after {quiet.Seconds:F0} s (last second: {quiet.Percent:F0} % of a core)"));
    }

    /// <summary>
    /// --rounds: both targets start and warm up, then take turns with a closed-loop burst (+ drain), the order swapped every
    /// round, each burst after both are quiet. A round's two bursts lie a minute apart at most, so the machine's speed,
    /// which drifts over minutes on this host, is nearly the same for both; the figures of one target at a time lie
    /// minutes apart.
    /// </summary>
    private async Task<List<TargetResult>> RunRoundsAsync()
    {
        var running = new List<(TargetProcess Target, TargetResult Result, ApiClient Client)>();
        try
        {
            if (options.Statements) await _cluster!.ResetStatementsAsync();
            foreach (var name in options.Targets)
            {
                var target = Own(await StartTargetAsync(name));
                var client = new ApiClient(target.BaseAddress, options.RequestTimeout);
                running.Add((target, new TargetResult(name), client));
                await StartUpAsync(target, running[^1].Result, client);
                await WarmUpAsync(target, client);
            }

            for (var round = 1; round <= options.Rounds; round++)
            {
                var turns = round % 2 == 1 ? running : Enumerable.Reverse(running).ToList();
                foreach (var (target, result, client) in turns)
                {
                    // The other target's drain and tiering are over before this burst starts.
                    foreach (var other in running) await WaitUntilQuietAsync(other.Target, TimeSpan.FromSeconds(60));
                    var burst = await MeasurePhaseAsync(target, $"round {round}, closed loop, {options.Connections} connections",
                        () => LoadGenerator.ClosedLoopAsync(client, options.Connections, options.Burst, options.MaxBurstRequests));
                    result.Rounds.Add(burst);
                    Progress.WriteLine($"[{target.Name}] {Describe(burst)}");
                }
            }

            foreach (var (target, result, _) in running)
            {
                result.PeakRssMib = ProcStats.StatusKib(target.Process.Pid, "VmHWM") / 1024.0;
                if (options.Statements) await WriteStatementsAsync(target);
            }
        }
        catch (Exception e)
        {
            foreach (var (_, result, _) in running) result.Failure = e.Message;
            Progress.WriteLine($"[rounds] FAILED: {e}");
            Progress.WriteLine($"Logs kept in {_runDirectory}");
            options.KeepLogs = true;
        }
        finally
        {
            foreach (var (_, _, client) in running) client.Dispose();
        }

        return running.Select(r => r.Result).ToList();
    }

    /// <summary>
    /// Traffic, then the drain (until every event of the phase has its notification); CPU of the target and of all of
    /// PostgreSQL and the target database's commits over traffic + drain; event lag of the phase's orders.
    /// </summary>
    private async Task<PhaseResult> MeasurePhaseAsync(TargetProcess target, string name, Func<Task<Traffic>> run, bool settle = true, bool profile = false)
    {
        var notificationsBefore = await CountNotificationsAsync(target);
        // (The cold phase starts at once: its commits then include a few of the sign-in's.)
        if (settle) await Task.Delay(StatsSettle);
        if (profile) _profiler = await CostProfiler.StartAsync(target, _cluster!, Path.Combine(_profileRoot, target.Name));
        var commitsBefore = await _cluster!.CommitsAsync(target.Database);
        var serviceCpuBefore = ProcStats.CpuMilliseconds(target.Process.Pid);
        var postgresCpuBefore = ProcStats.TreeCpuMilliseconds(_cluster.PostmasterPid);

        var trafficStart = Stopwatch.GetTimestamp();
        var traffic = await run();
        var machine = _probe.MedianBetween(trafficStart, Stopwatch.GetTimestamp());
        _profiler?.TrafficEnded();
        var drain = await DrainAsync(target, notificationsBefore + traffic.ExpectedNotifications, options.DrainTimeout);

        var serviceCpu = ProcStats.CpuMilliseconds(target.Process.Pid) - serviceCpuBefore;
        var postgresCpu = ProcStats.TreeCpuMilliseconds(_cluster.PostmasterPid) - postgresCpuBefore;
        if (profile) await _profiler!.StopSamplingAsync();
        await Task.Delay(StatsSettle);
        // The drain's own count queries ran in the target's database: they are not the target's commits.
        var commits = await _cluster.CommitsAsync(target.Database) - commitsBefore - drain.Polls;
        if (profile) await _profiler!.ReadDatabaseAsync();

        var lag = new Latency();
        lag.RecordAll(await LagsAsync(target, traffic.CreatedOrders.ToArray()));
        var rss = ProcStats.StatusKib(target.Process.Pid, "VmRSS") / 1024.0;
        return new PhaseResult(name, traffic, drain.Drained, drain.Seconds, lag.Summary(), serviceCpu, postgresCpu, commits, rss) { MachineProbeNs = machine };
    }

    /// <summary>
    /// After the warm-up the JIT keeps recompiling hot methods at tier 1 in the background for several seconds (a quarter
    /// to half a core here): wait until the target uses less than 10 % of a core over a second, so the first measured
    /// phase does not pay for it.
    /// </summary>
    private static async Task<(double Seconds, double Percent)> WaitUntilQuietAsync(TargetProcess target, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var before = ProcStats.CpuMilliseconds(target.Process.Pid);
            await Task.Delay(1000);
            var percent = (ProcStats.CpuMilliseconds(target.Process.Pid) - before) / 10.0;
            if (percent < 10 || clock.Elapsed > timeout) return (clock.Elapsed.TotalSeconds, percent);
        }
    }

    private async Task<(bool Drained, double Seconds, int Polls)> DrainAsync(TargetProcess target, long expected, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        var polls = 0;
        while (true)
        {
            polls++;
            if (await CountNotificationsAsync(target) >= expected) return (true, clock.Elapsed.TotalSeconds, polls);
            if (clock.Elapsed > timeout) return (false, clock.Elapsed.TotalSeconds, polls);
            // Poll often at first, then less (each count is a scan; at most 2% of the drain time is lost to granularity).
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Clamp(clock.Elapsed.TotalMilliseconds / 50, 20, 500)));
        }
    }

    private async Task<long> CountNotificationsAsync(TargetProcess target)
    {
        await using var connection = new NpgsqlConnection(_cluster!.ConnectionString(target.Database));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(target.Store.CountSql, connection);
        try
        {
            return (long)(await command.ExecuteScalarAsync())!;
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            return 0; // not created yet (before the first notification)
        }
    }

    private async Task<List<double>> LagsAsync(TargetProcess target, long[] orderIds)
    {
        await using var connection = new NpgsqlConnection(_cluster!.ConnectionString(target.Database));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(target.Store.LagSql, connection);
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = orderIds });
        var lags = new List<double>(orderIds.Length);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) lags.Add(reader.GetDouble(0));
        return lags;
    }

    private static string Describe(PhaseResult phase) => string.Create(CultureInfo.InvariantCulture,
        $"{phase.Name}: {phase.Traffic.Succeeded}/{phase.Traffic.Sent} ok in {phase.Traffic.ElapsedSeconds:F1} s ({phase.Traffic.AchievedRate:F0}/s), " +
        $"errors: {phase.Traffic.DescribeErrors()}; POST p50/p99 {phase.Traffic.ByOperation[Operation.Create].Summary().P50:F1}/{phase.Traffic.ByOperation[Operation.Create].Summary().P99:F1} ms; " +
        $"drain {phase.DrainSeconds:F1} s{(phase.Drained ? "" : " (NOT DRAINED)")}; lag p99 {phase.Lag.P99:F1} ms; " +
        $"CPU/order {phase.Per(phase.ServiceCpuMs, phase.Orders):F2} + PG {phase.Per(phase.PostgresCpuMs, phase.Orders):F2} ms; commits/order {phase.Per(phase.Commits, phase.Orders):F1}; " +
        $"machine probe {phase.MachineProbeNs:F0} ns");

    // ---- processes -------------------------------------------------------------------------------------------

    // For this machine's runtime, as the Dockerfile does: ReadyToRun (see OrderEvents.csproj).
    private string PublishService() => Publish("OrderEvents", "service", ["-r", "linux-x64", "--self-contained", "false"]);

    /// <summary>The development host, for its `kafka-broker` command only (the service has no embedded broker).</summary>
    private string PublishDevHost() => Publish("OrderEvents.DevHost", "devhost", []);

    private string Publish(string project, string folder, string[] runtime)
    {
        var output = Path.Combine(repoRoot, "artifacts", "bench", folder);
        var dll = Path.Combine(output, project + ".dll");
        if (options.NoBuild && File.Exists(dll)) return dll;

        Progress.WriteLine($"Publishing src/{project} ({options.Configuration}) to {output}");
        var clock = Stopwatch.StartNew();
        var start = new ProcessStartInfo(_dotnet)
        {
            ArgumentList = { "publish", Path.Combine(repoRoot, "src", project, project + ".csproj"), "-c", options.Configuration,
                "-o", output, "--nologo", "-v", "q" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in runtime) start.ArgumentList.Add(argument);
        using var publish = Process.Start(start)!;
        var stdout = publish.StandardOutput.ReadToEndAsync();
        var stderr = publish.StandardError.ReadToEndAsync();
        publish.WaitForExit();
        if (publish.ExitCode != 0) throw new InvalidOperationException($"dotnet publish failed:\n{stdout.Result}{stderr.Result}");
        Progress.WriteLine($"Published in {clock.Elapsed.TotalSeconds:F0} s");
        return dll;
    }

    /// <summary>The service's environment (ASPNETCORE_ENVIRONMENT, the signing key, then --service-env overrides).</summary>
    private Dictionary<string, string?> ServiceEnvironment()
    {
        var environment = new Dictionary<string, string?>
        {
            ["ASPNETCORE_ENVIRONMENT"] = options.ServiceEnvironment,
            ["DOTNET_ENVIRONMENT"] = null,
            ["Jwt__SigningKey"] = SigningKey,
            ["ConnectionStrings__Postgres"] = _cluster!.ConnectionString(ServiceDatabase),
            ["KAFKA_ENABLED"] = "true",
            // The orders use the demo products 1..5, which only Development seeds by default.
            ["Catalog__SeedDemoProducts"] = "true",
            // Outside Development the schema is applied before start-up (db-apply, below) and the notifications'
            // EF Core migrations by the documented switch, as an operator would.
            ["Notifications__MigrateOnStartup"] = "true",
            // The baseline's Kafka client settings (BareServer/NotificationConsumer/OutboxRelay), so both targets wait
            // the same way for the broker; these are the service's Development values.
            ["Kafka__FetchWaitMaxMs"] = "10",
            ["Kafka__SessionTimeoutMs"] = "6000",
            ["Kafka__HeartbeatIntervalMs"] = "500",
            ["Kafka__LingerMs"] = "1",
            // The bench registers and logs in all its users from one address within seconds.
            ["RateLimits__Auth__PermitsPerAddress"] = "100000",
            ["RateLimits__Auth__PermitsPerEmail"] = "100000",
        };
        foreach (var (key, value) in options.ServiceEnv) environment[key] = value;
        return environment;
    }

    private async Task<string> StartBrokerAsync()
    {
        var file = Path.Combine(_runDirectory, "bootstrap.txt");
        var environment = ServiceEnvironment();
        environment["KAFKA_BROKERS"] = null;
        var devHost = PublishDevHost();
        var broker = Own(ChildProcess.Start(_dotnet, [devHost, "kafka-broker", "--bootstrap-file", file],
            Path.GetDirectoryName(devHost)!, environment, Path.Combine(_runDirectory, "kafka-broker.log")));
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (File.Exists(file) && (await File.ReadAllTextAsync(file)).Trim() is { Length: > 0 } bootstrap)
            {
                Progress.WriteLine($"Standalone broker (the development host's kafka-broker command) at {bootstrap}");
                return bootstrap;
            }

            if (broker.HasExited) break;
            await Task.Delay(100);
        }

        throw new InvalidOperationException($"The kafka-broker command did not write {file}:\n{broker.Tail()}");
    }

    private async Task<TargetProcess> StartServiceAsync()
    {
        var port = PostgresCluster.FreePort();
        var environment = ServiceEnvironment();
        environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        environment["KAFKA_BROKERS"] = _bootstrap;
        foreach (var (key, value) in options.ServiceEnv) environment[key] = value;
        if (options.ServiceEnvironment != "Development") await ApplySchemaAsync(environment);
        if (options.Profile)
            foreach (var (key, value) in ProfilingEnvironment)
                environment[key] = options.ServiceEnv.LastOrDefault(e => e.Key == key).Value ?? value;
        var process = ChildProcess.Start(_dotnet, [_serviceDll, .. options.ServiceArgs], Path.GetDirectoryName(_serviceDll)!, environment,
            Path.Combine(_runDirectory, "service.log"));
        return new TargetProcess("service", ServiceDatabase, NotificationStore.Service, process, new Uri($"http://127.0.0.1:{port}"));
    }

    private async Task<TargetProcess> StartTargetAsync(string name) => name == "service" ? await StartServiceAsync() : StartBaseline();

    /// <summary>--statements: the target's top statements (everything since it started: warm-up, phases, drains).</summary>
    private async Task WriteStatementsAsync(TargetProcess target)
    {
        var top = await _cluster!.TopStatementsAsync(target.Database);
        var file = Path.Combine(options.Out is { } o ? Path.GetDirectoryName(Path.GetFullPath(o))! : _runDirectory, $"statements-{target.Name}.md");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        await File.WriteAllTextAsync(file, $"# Top statements of {target.Name} (pg_stat_statements, whole measurement)\n\n{top}\n");
        Progress.WriteLine($"[{target.Name}] top statements written to {file}");
    }

    /// <summary>Outside Development the service does not change its schema at start-up: `db-apply` does, first.</summary>
    private async Task ApplySchemaAsync(Dictionary<string, string?> environment)
    {
        var clock = Stopwatch.StartNew();
        using var apply = ChildProcess.Start(_dotnet, [_serviceDll, "db-apply"], Path.GetDirectoryName(_serviceDll)!, environment,
            Path.Combine(_runDirectory, "service-db-apply.log"));
        while (!apply.HasExited && clock.Elapsed < TimeSpan.FromMinutes(2)) await Task.Delay(100);
        if (!apply.HasExited || apply.ExitCode != 0)
            throw new InvalidOperationException($"db-apply failed:\n{apply.Tail()}");
        Progress.WriteLine($"[service] db-apply in {clock.Elapsed.TotalSeconds:F1} s");
    }

    private TargetProcess StartBaseline()
    {
        var port = PostgresCluster.FreePort();
        var self = typeof(BenchRun).Assembly.Location;
        var environment = new Dictionary<string, string?>
        {
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["ConnectionStrings__Postgres"] = _cluster!.ConnectionString(BaselineDatabase),
            ["KAFKA_BROKERS"] = _bootstrap,
            ["Jwt__SigningKey"] = SigningKey,
            ["BASELINE_TOPIC"] = "baseline-order-events",
            ["BASELINE_GROUP"] = "baseline-notifications",
        };
        if (options.Profile) foreach (var (key, value) in ProfilingEnvironment) environment[key] = value;
        var process = ChildProcess.Start(_dotnet, [self, "baseline-server"], Path.GetDirectoryName(self)!, environment,
            Path.Combine(_runDirectory, "baseline.log"));
        return new TargetProcess("baseline", BaselineDatabase, NotificationStore.Baseline, process, new Uri($"http://127.0.0.1:{port}"));
    }

    /// <summary>
    /// --profile: perf names JIT-compiled methods through /tmp/perf-PID.map, and only for anonymous executable memory:
    /// with W^X (the default) the runtime maps its code through a memfd ("doublemapper"), which perf takes for a file and
    /// leaves unnamed, so W^X is off for a profiled target (both targets alike).
    /// </summary>
    private static readonly Dictionary<string, string> ProfilingEnvironment = new()
    {
        ["DOTNET_PerfMapEnabled"] = "1",
        ["DOTNET_EnableWriteXorExecute"] = "0",
    };

    private T Own<T>(T disposable) where T : IDisposable
    {
        lock (_owned) _owned.Add(disposable);
        return disposable;
    }

    private static string FindDotnet() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host
        : Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath! : "dotnet";

    /// <summary>Stops the broker and removes the cluster (targets are stopped after their own measurement); idempotent.</summary>
    public void Dispose()
    {
        lock (_owned)
        {
            if (_disposed) return;
            _disposed = true;
            try
            {
                // A perf record still attached (Ctrl+C during a profiled burst) stops with the run.
                _profiler?.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(15));
            }
            catch (Exception e)
            {
                Console.Error.WriteLine($"Cleanup: {e.Message}");
            }

            _probe.Dispose();
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
