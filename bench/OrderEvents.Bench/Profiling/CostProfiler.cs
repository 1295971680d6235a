using System.Diagnostics;
using System.Globalization;
using System.Text;
using Npgsql;
using OrderEvents.Bench.Harness;
using OrderEvents.Bench.Targets;

namespace OrderEvents.Bench.Profiling;

/// <summary>
/// <c>--profile</c>: the cost of the closed-loop burst (traffic + drain) of one target, by real profilers over the same
/// window as the bench's CPU figures: perf samples (<see cref="PerfRecorder"/>) classified into stages
/// (<see cref="StageClassifier"/>, <see cref="CostRules"/>), the runtime's GC and allocation events
/// (<see cref="RuntimeEvents"/>), PostgreSQL's statistics (<see cref="PostgresActivity"/>), and the memory at the end of
/// the traffic and after the run (smaps, a gcdump). Raw artifacts go to artifacts/profile/&lt;run&gt;/&lt;target&gt;/.
/// </summary>
public sealed class CostProfiler : IAsyncDisposable
{
    private readonly TargetProcess _target;
    private readonly PostgresCluster _cluster;
    private readonly PostgresActivity _databaseBefore;
    private readonly RuntimeEvents _runtime;
    private readonly PerfRecorder _perf;
    private PostgresActivity? _databaseAfter;
    private MemorySnapshot? _atTrafficEnd;

    private CostProfiler(TargetProcess target, PostgresCluster cluster, string directory, PostgresActivity databaseBefore, RuntimeEvents runtime, PerfRecorder perf)
    {
        _target = target;
        _cluster = cluster;
        Directory = directory;
        _databaseBefore = databaseBefore;
        _runtime = runtime;
        _perf = perf;
    }

    public string Directory { get; }

    public static async Task<CostProfiler> StartAsync(TargetProcess target, PostgresCluster cluster, string directory)
    {
        System.IO.Directory.CreateDirectory(directory);
        await using (var connection = new NpgsqlConnection(cluster.ConnectionString("postgres")))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand("create extension if not exists pg_stat_statements", connection);
            await create.ExecuteNonQueryAsync();
        }

        var databaseBefore = await PostgresActivity.ReadAsync(cluster, target.Database);
        var runtime = RuntimeEvents.Start(target.Process.Pid);
        PerfRecorder perf;
        try
        {
            perf = await PerfRecorder.StartAsync(target.Process.Pid, Path.Combine(directory, "perf.data"));
        }
        catch
        {
            await runtime.DisposeAsync();
            throw;
        }

        return new CostProfiler(target, cluster, directory, databaseBefore, runtime, perf);
    }

    /// <summary>The traffic just stopped: memory near its peak (before the drain lets it fall).</summary>
    public void TrafficEnded()
    {
        _atTrafficEnd = MemorySnapshot.Read(_target.Process.Pid, withMappings: false);
        _runtime.MarkTrafficEnd();
    }

    /// <summary>Right after the drain (with the bench's CPU reading): stop sampling and the event session.</summary>
    public async Task StopSamplingAsync()
    {
        await _perf.StopAsync();
        await _runtime.StopAsync();
    }

    /// <summary>After the statistics settled (backends flush them within a second).</summary>
    public async Task ReadDatabaseAsync() => _databaseAfter = await PostgresActivity.ReadAsync(_cluster, _target.Database);

    /// <summary>
    /// After the target's measurement (it still runs): perf script and the classification, the statements, the memory
    /// map and a heap dump; writes the artifacts and returns the figures per order.
    /// </summary>
    public async Task<CostProfile> AnalyzeAsync(PhaseResult burst, TextWriter progress)
    {
        var pid = _target.Process.Pid;
        var clock = Stopwatch.StartNew();
        var map = $"/tmp/perf-{pid}.map";
        if (File.Exists(map)) File.Copy(map, Path.Combine(Directory, Path.GetFileName(map)), overwrite: true);
        var samples = await PerfRecorder.ScriptAsync(_perf.DataFile, Path.Combine(Directory, "perf-script.txt.gz"));
        // The runtime leaves its perf map in /tmp; the copy beside perf.data is the one kept.
        File.Delete(map);
        progress.WriteLine($"[{_target.Name}] profile: {samples.Count} perf samples read in {clock.Elapsed.TotalSeconds:F0} s");

        var classifier = new StageClassifier(CostRules.For(_target.Name), _runtime.Pauses);
        var classified = samples.Select(s => (Sample: s, Class: classifier.Classify(s))).ToList();
        var memoryAtEnd = MemorySnapshot.Read(pid, withMappings: true);
        var heap = await HeapDump.CollectAsync(pid, Directory, progress);
        var database = PostgresActivity.Delta(_databaseBefore, _databaseAfter ?? await PostgresActivity.ReadAsync(_cluster, _target.Database));

        var profile = new CostProfile
        {
            Target = _target.Name,
            Directory = Directory,
            Orders = burst.Orders,
            ProcessCpuMs = burst.ServiceCpuMs,
            PostgresCpuMs = burst.PostgresCpuMs,
            Commits = burst.Commits,
            Samples = samples.Count,
            Stages = classified.GroupBy(c => c.Class.Stage)
                .Select(g => new StageCost(g.Key, g.Count(), g.Count(c => c.Class.InJson), g.Count(c => c.Class.Leaf == "kernel"),
                    g.Count(c => c.Class.Leaf == "runtime native (libcoreclr)"),
                    g.GroupBy(c => c.Class.Rule).OrderByDescending(r => r.Count()).Select(r => (r.Key, r.Count())).ToList()))
                .OrderByDescending(s => s.Samples).ToList(),
            Unclassified = TopStacks(classified.Where(c => c.Class.Stage == StageClassifier.Unclassified).Select(c => c.Sample), 15),
            Threads = classified.GroupBy(c => ThreadGroup(c.Sample.Thread)).Select(g => (g.Key, g.Count())).OrderByDescending(t => t.Item2).ToList(),
            UnresolvedManagedShare = samples.Count == 0 ? 0 : samples.Count(s => s.Frames.Length > 0 && IsUnresolvedManaged(s.Frames[0])) / (double)samples.Count,
            JsonByFrame = JsonTop(classified),
            SyscallsByNeighbour = SyscallsByNeighbour(classified),
            Runtime = new RuntimeSummary(_runtime.AllocatedBytes, _runtime.AllocationTicks,
                _runtime.AllocatedByType.OrderByDescending(p => p.Value).Take(25).Select(p => (p.Key, p.Value)).ToList(),
                (int[])_runtime.Collections.Clone(), _runtime.Pauses.Count, _runtime.PauseMilliseconds, _runtime.HeapBytesAtTrafficEnd,
                samples.Count == 0 ? 0 : _runtime.Pauses.Count(p => p.StartNs >= samples.Min(x => x.TimeNs) && p.EndNs <= samples.Max(x => x.TimeNs))),
            Database = database,
            MemoryAtTrafficEnd = _atTrafficEnd,
            MemoryAtEnd = memoryAtEnd,
            HeapTopTypes = heap,
            ExcludedStatements = [_target.Store.CountSql],
        };
        await WriteArtifactsAsync(profile, classified);
        progress.WriteLine($"[{_target.Name}] profile analysed in {clock.Elapsed.TotalSeconds:F0} s, artifacts in {Directory}");
        return profile;
    }

    private static bool IsUnresolvedManaged(Frame frame) =>
        frame.Symbol == "[unknown]" && (frame.Dso.StartsWith("/tmp/perf-", StringComparison.Ordinal) || frame.Dso.EndsWith(".dll", StringComparison.Ordinal) || frame.Dso == "[unknown]");

    /// <summary>".NET TP Worker" and the like; numbered thread names ("rdk:broker1") by their prefix.</summary>
    private static string ThreadGroup(string thread) => thread.TrimEnd('0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '-');

    /// <summary>The most frequent leaf-most managed frames of samples with a System.Text.Json frame, per stage.</summary>
    private static List<(string Stage, string Frame, int Samples)> JsonTop(List<(PerfSample Sample, Classified Class)> classified) =>
        classified.Where(c => c.Class.InJson)
            .GroupBy(c => (c.Class.Stage.Name, Caller: CallerOfJson(c.Sample.Frames)))
            .Select(g => (g.Key.Name, g.Key.Caller, g.Count())).OrderByDescending(x => x.Item3).Take(20).ToList();

    /// <summary>
    /// The send()/recv() samples whose caller perf lost, by the stage of the same thread's nearest other sample within
    /// 2 ms (a loopback send takes microseconds: the thread was doing that stage's work around it). An estimate, shown
    /// apart from the measured table; samples with no such neighbour stay "no neighbour".
    /// </summary>
    private static List<(string Stage, int Samples)> SyscallsByNeighbour(List<(PerfSample Sample, Classified Class)> classified)
    {
        const long window = 2_000_000;
        var counts = new Dictionary<string, int>();
        foreach (var thread in classified.GroupBy(c => c.Sample.Tid))
        {
            var ordered = thread.OrderBy(c => c.Sample.TimeNs).ToList();
            for (var i = 0; i < ordered.Count; i++)
            {
                if (ordered[i].Class.Stage != StageClassifier.SocketSyscallOrphan) continue;
                var time = ordered[i].Sample.TimeNs;
                (string Stage, long Distance)? best = null;
                foreach (var step in (int[])[-1, 1])
                for (var j = i + step; j >= 0 && j < ordered.Count && Math.Abs(ordered[j].Sample.TimeNs - time) <= window; j += step)
                {
                    if (!IsWork(ordered[j].Class.Stage)) continue;
                    var distance = Math.Abs(ordered[j].Sample.TimeNs - time);
                    if (best is null || distance < best.Value.Distance) best = (ordered[j].Class.Stage.Name, distance);
                    break;
                }

                var stage = best?.Stage ?? "no neighbour within 2 ms";
                counts[stage] = counts.GetValueOrDefault(stage) + 1;
            }
        }

        return counts.Select(p => (p.Key, p.Value)).OrderByDescending(p => p.Value).ToList();
    }

    private static bool IsWork(Stage stage) =>
        stage != StageClassifier.SocketSyscallOrphan && stage != StageClassifier.Unclassified && stage != StageClassifier.ThreadPool
        && stage != StageClassifier.Gc && stage != StageClassifier.Jit;

    /// <summary>The first frame above the outermost System.Text.Json frame: who serializes or parses.</summary>
    private static string CallerOfJson(Frame[] frames)
    {
        var outermost = Array.FindLastIndex(frames, f => f.Method.StartsWith("System.Text.Json", StringComparison.Ordinal));
        var caller = frames.Skip(outermost + 1).FirstOrDefault(f => !f.Method.StartsWith("System.Runtime.CompilerServices", StringComparison.Ordinal));
        return caller is null ? "(none)" : Shorten(caller.Method);
    }

    public static List<(string Stack, int Samples)> TopStacks(IEnumerable<PerfSample> samples, int count) =>
        samples.GroupBy(s => string.Join(" ← ", s.Frames.Where(f => !f.IsKernel).Take(4).Select(f => Shorten(f.Method == "[unknown]" ? $"[{f.DsoName}]" : f.Method))))
            .Select(g => (g.Key, g.Count())).OrderByDescending(x => x.Item2).Take(count).ToList();

    /// <summary>The frames of a sample that a reader needs, root first: managed methods and native libraries, for stages-top-stacks.txt.</summary>
    public static string Chain(PerfSample sample, int count) =>
        string.Join(" → ", sample.Frames.Where(f => !f.IsKernel).Select(f => f.Method == "[unknown]" ? $"[{f.DsoName}]" : Shorten(f.Method))
            .Where(m => !m.StartsWith("System.Runtime.CompilerServices", StringComparison.Ordinal) && !m.StartsWith("System.Threading.ExecutionContext", StringComparison.Ordinal)
                        && !m.StartsWith("System.Threading.Tasks", StringComparison.Ordinal))
            .Take(count).Reverse());

    /// <summary>"instance void [Asm] Ns.Type::Method(args)[OptimizedTier1]" → "Ns.Type::Method".</summary>
    public static string Shorten(string symbol)
    {
        var text = symbol;
        var bracket = text.IndexOf("] ", StringComparison.Ordinal);
        if (text.Contains("::", StringComparison.Ordinal) && bracket >= 0 && bracket < text.IndexOf("::", StringComparison.Ordinal)) text = text[(bracket + 2)..];
        var paren = text.IndexOf('(');
        if (paren > 0) text = text[..paren];
        return text.Length > 140 ? text[..140] + "…" : text;
    }

    private async Task WriteArtifactsAsync(CostProfile profile, List<(PerfSample Sample, Classified Class)> classified)
    {
        var csv = new StringBuilder("stage,samples,share,cpu_ms_per_order,json_samples,kernel_samples,runtime_native_samples\n");
        foreach (var stage in profile.Stages)
            csv.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"\"{stage.Stage.Name}\",{stage.Samples},{profile.Share(stage):F4},{profile.MsPerOrder(stage):F4},{stage.JsonSamples},{stage.KernelSamples},{stage.RuntimeNativeSamples}"));
        await File.WriteAllTextAsync(Path.Combine(Directory, "stages.csv"), csv.ToString());

        // Per stage, the heaviest leaf-side frames: where inside a stage the time goes.
        var detail = new StringBuilder();
        foreach (var group in classified.GroupBy(c => c.Class.Stage).OrderByDescending(g => g.Count()))
        {
            detail.AppendLine($"## {group.Key.Name}: {group.Count()} samples");
            foreach (var (stack, count) in TopStacks(group.Select(c => c.Sample), 25)) detail.AppendLine($"{count,7}  {stack}");
            detail.AppendLine();
        }

        await File.WriteAllTextAsync(Path.Combine(Directory, "stages-top-stacks.txt"), detail.ToString());

        var statements = new StringBuilder("calls,rows,total_ms,toplevel,wal_bytes,blocks_hit,blocks_read,query\n");
        foreach (var ((_, top), s) in profile.Database.Statements.OrderByDescending(p => p.Value.TotalMs))
            statements.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"{s.Calls},{s.Rows},{s.TotalMs:F3},{top},{s.WalBytes:F0},{s.BlocksHit},{s.BlocksRead},\"{s.Query.Replace("\"", "\"\"")}\""));
        await File.WriteAllTextAsync(Path.Combine(Directory, "statements.csv"), statements.ToString());

        var allocations = new StringBuilder("type,bytes_sampled\n");
        foreach (var (type, bytes) in _runtime.AllocatedByType.OrderByDescending(p => p.Value)) allocations.AppendLine($"\"{type}\",{bytes}");
        await File.WriteAllTextAsync(Path.Combine(Directory, "allocations.csv"), allocations.ToString());

        var pauses = new StringBuilder("tid,start_ns,end_ns,generation\n");
        foreach (var pause in _runtime.Pauses) pauses.AppendLine($"{pause.Tid},{pause.StartNs},{pause.EndNs},{pause.Generation}");
        await File.WriteAllTextAsync(Path.Combine(Directory, "gc-pauses.csv"), pauses.ToString());

        var mappings = new StringBuilder("mapping,rss_kib,anonymous_kib\n");
        foreach (var (mapping, rss, anonymous) in profile.MemoryAtEnd.ByMapping) mappings.AppendLine($"\"{mapping}\",{rss},{anonymous}");
        await File.WriteAllTextAsync(Path.Combine(Directory, "memory-mappings.csv"), mappings.ToString());
    }

    public async ValueTask DisposeAsync()
    {
        _perf.Dispose();
        await _runtime.DisposeAsync();
    }
}

/// <summary>A heap dump with dotnet-gcdump (the repository's local tool, dotnet-tools.json) and its top types by size.</summary>
public static class HeapDump
{
    public static async Task<List<string>> CollectAsync(int pid, string directory, TextWriter progress)
    {
        var file = Path.Combine(directory, "heap.gcdump");
        var (collected, collectOutput) = await RunAsync(["tool", "run", "dotnet-gcdump", "collect", "-p", pid.ToString(), "-o", file], directory);
        if (!collected || !File.Exists(file))
        {
            progress.WriteLine($"gcdump failed: {collectOutput}");
            return [$"(gcdump failed: {collectOutput.Trim()})"];
        }

        var (reported, report) = await RunAsync(["tool", "run", "dotnet-gcdump", "report", file], directory);
        await File.WriteAllTextAsync(Path.Combine(directory, "heap-report.txt"), report);
        return reported ? TopTypes(report, 15) : [$"(gcdump report failed: {report.Trim()})"];
    }

    /// <summary>
    /// The heapstat report lists "average object bytes, count, type" per type and size bucket ("(Bytes > 10K)"): the
    /// types by their total (average × count, buckets added up), with the heap's totals first.
    /// </summary>
    public static List<string> TopTypes(string report, int count)
    {
        var lines = report.Split('\n');
        var totals = new Dictionary<string, (double Bytes, long Objects)>();
        foreach (var line in lines)
        {
            var parts = line.Trim().Split(' ', 3, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length < 3 || !long.TryParse(parts[0].Replace(",", ""), out var average) || !long.TryParse(parts[1].Replace(",", ""), out var objects)) continue;
            var type = System.Text.RegularExpressions.Regex.Replace(parts[2], @" \(Bytes > [0-9]+K\)", "").Trim();
            var total = totals.GetValueOrDefault(type);
            totals[type] = (total.Bytes + (double)average * objects, total.Objects + objects);
        }

        var header = lines.Where(l => l.Contains("GC Heap", StringComparison.Ordinal)).Select(l => l.Trim());
        return header.Concat(totals.OrderByDescending(t => t.Value.Bytes).Take(count)
            .Select(t => string.Create(CultureInfo.InvariantCulture, $"{t.Value.Bytes / 1024.0,10:N0} KiB {t.Value.Objects,9:N0}  {t.Key}"))).ToList();
    }

    private static async Task<(bool Ok, string Output)> RunAsync(string[] arguments, string directory)
    {
        // The local tool manifest (dotnet-tools.json) is found from the artifacts folder, which is inside the repository.
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            return (false, "timed out after 120 s");
        }

        return (process.ExitCode == 0, await stdout + await stderr);
    }
}

public sealed record StageCost(Stage Stage, int Samples, int JsonSamples, int KernelSamples, int RuntimeNativeSamples, List<(string Rule, int Samples)> Rules);

public sealed record RuntimeSummary(long AllocatedBytes, long AllocationTicks, List<(string Type, long Bytes)> TopTypes, int[] Collections, int Pauses, double PauseMs,
    long HeapBytesAtTrafficEnd, int PausesInsideSamples);

/// <summary>The cost figures of one target's burst (traffic + drain).</summary>
public sealed class CostProfile
{
    public required string Target { get; init; }
    public required string Directory { get; init; }
    public required int Orders { get; init; }
    public required double ProcessCpuMs { get; init; }
    public required double PostgresCpuMs { get; init; }
    public required long Commits { get; init; }
    public required int Samples { get; init; }
    public required List<StageCost> Stages { get; init; }
    public required List<(string Stack, int Samples)> Unclassified { get; init; }
    public required List<(string Thread, int Samples)> Threads { get; init; }
    public required double UnresolvedManagedShare { get; init; }
    public required List<(string Stage, string Frame, int Samples)> JsonByFrame { get; init; }
    public required List<(string Stage, int Samples)> SyscallsByNeighbour { get; init; }
    public required RuntimeSummary Runtime { get; init; }
    public required PostgresActivity Database { get; init; }
    public required MemorySnapshot? MemoryAtTrafficEnd { get; init; }
    public required MemorySnapshot MemoryAtEnd { get; init; }
    public required List<string> HeapTopTypes { get; init; }
    public required List<string> ExcludedStatements { get; init; }

    public double Share(StageCost stage) => Samples == 0 ? 0 : stage.Samples / (double)Samples;
    public double MsPerOrder(StageCost stage) => Orders == 0 ? double.NaN : Share(stage) * ProcessCpuMs / Orders;
    public double MsPerOrder(int samples) => Orders == 0 || Samples == 0 ? double.NaN : samples / (double)Samples * ProcessCpuMs / Orders;
}
