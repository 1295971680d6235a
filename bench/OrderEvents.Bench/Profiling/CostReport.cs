using System.Globalization;
using System.Text;

namespace OrderEvents.Bench.Profiling;

/// <summary>The markdown of <c>--profile</c>: the cost of one order per stage, side by side, then allocations, PostgreSQL and memory.</summary>
public static class CostReport
{
    public static string Markdown(BenchOptions options, IReadOnlyList<TargetResult> results)
    {
        var profiles = results.Select(r => r.Profile).OfType<CostProfile>().ToList();
        if (profiles.Count == 0) return "";
        var service = profiles.FirstOrDefault(p => p.Target == "service");
        var bare = profiles.FirstOrDefault(p => p.Target == "baseline");
        var md = new StringBuilder();
        md.AppendLine();
        md.AppendLine($"### Cost of one order (`--profile`): closed loop, {options.Connections} connections, {options.Burst.TotalSeconds:0} s burst + drain");
        md.AppendLine();
        md.AppendLine("CPU by stage = the stage's share of the target's perf samples (`perf record -e cpu-clock -F 999 -g`, perf map for managed code) × the " +
                      "target's CPU per order over the same window (/proc utime+stime, the table above). Stages: innermost frame a rule recognises " +
                      "(Profiling/CostRules.cs); GC = samples of the collecting thread inside the runtime's own pause events. The profilers cost some " +
                      "throughput (perf, the EventPipe session, pg_stat_statements): compare these figures with each other, and the throughput with a run without `--profile`. " +
                      "Both targets run with DOTNET_PerfMapEnabled=1 and DOTNET_EnableWriteXorExecute=0 (perf names JIT code only in anonymous memory); " +
                      "ReadyToRun code is not in the perf map, but hot methods are recompiled at tier 1 and are: the unresolved share below says what is left.");
        md.AppendLine();
        foreach (var p in profiles)
            md.AppendLine(F($"- {p.Target}: {p.Orders:N0} orders, {p.ProcessCpuMs / p.Orders:F3} ms CPU per order, {p.Samples:N0} samples, {p.UnresolvedManagedShare:P1} of samples with an unresolved leaf; artifacts `{Relative(p.Directory)}`"));
        md.AppendLine();

        md.AppendLine("By group (ms per order; the stages below added up):");
        md.AppendLine();
        md.AppendLine("| group | OrderEvents | bare | difference |");
        md.AppendLine("|---|---|---|---|");
        foreach (var group in profiles.SelectMany(p => p.Stages).Select(s => GroupOf(s.Stage)).Distinct()
                     .OrderByDescending(g => service is null ? 0 : GroupMs(service, g)))
        {
            var sg = service is null ? double.NaN : GroupMs(service, group);
            var bg = bare is null ? double.NaN : GroupMs(bare, group);
            md.AppendLine(F($"| {group} | {Number(sg)} | {Number(bg)} | {(double.IsNaN(sg) || double.IsNaN(bg) ? "" : (sg - bg).ToString("+0.000;-0.000", CultureInfo.InvariantCulture))} |"));
        }

        md.AppendLine();
        md.AppendLine("| stage | OrderEvents ms/order | share | bare ms/order | share | what it buys |");
        md.AppendLine("|---|---|---|---|---|---|");
        var names = profiles.SelectMany(p => p.Stages).GroupBy(s => s.Stage.Name)
            .OrderByDescending(g => service?.Stages.FirstOrDefault(s => s.Stage.Name == g.Key) is { } st ? service.MsPerOrder(st) : -1)
            .ThenByDescending(g => bare?.Stages.FirstOrDefault(s => s.Stage.Name == g.Key) is { } st ? bare.MsPerOrder(st) : -1);
        foreach (var group in names)
        {
            var s = service?.Stages.FirstOrDefault(x => x.Stage.Name == group.Key);
            var b = bare?.Stages.FirstOrDefault(x => x.Stage.Name == group.Key);
            md.AppendLine($"| {group.Key} | {Ms(service, s)} | {Share(service, s)} | {Ms(bare, b)} | {Share(bare, b)} | {group.First().Stage.Buys} |");
        }

        md.AppendLine(F($"| **total (process CPU per order)** | **{Total(service)}** | 100 % | **{Total(bare)}** | 100 % | |"));
        md.AppendLine();

        md.AppendLine("Inside the stages (ms per order): System.Text.Json frames, kernel (syscalls, sockets, scheduling), the runtime's native code " +
                      "(allocation helpers, type checks, stubs; libcoreclr is stripped, so unnamed):");
        md.AppendLine();
        md.AppendLine("| stage | target | JSON | kernel | runtime native |");
        md.AppendLine("|---|---|---|---|---|");
        foreach (var p in profiles)
        foreach (var stage in p.Stages.Where(s => s.JsonSamples + s.KernelSamples + s.RuntimeNativeSamples > 0 && p.MsPerOrder(s.Samples) >= 0.005))
            md.AppendLine(F($"| {stage.Stage.Name} | {p.Target} | {p.MsPerOrder(stage.JsonSamples):F3} | {p.MsPerOrder(stage.KernelSamples):F3} | {p.MsPerOrder(stage.RuntimeNativeSamples):F3} |"));
        foreach (var p in profiles)
        {
            md.AppendLine(F($"| **all stages** | {p.Target} | {p.MsPerOrder(p.Stages.Sum(s => s.JsonSamples)):F3} | {p.MsPerOrder(p.Stages.Sum(s => s.KernelSamples)):F3} | {p.MsPerOrder(p.Stages.Sum(s => s.RuntimeNativeSamples)):F3} |"));
        }

        md.AppendLine();
        foreach (var p in profiles.Where(p => p.SyscallsByNeighbour.Count > 0))
        {
            var total = p.SyscallsByNeighbour.Sum(x => x.Samples);
            md.AppendLine(F($"Estimate, not in the table above: the {p.Target}'s send()/recv() samples whose caller perf lost ({p.MsPerOrder(total):F3} ms/order), by the stage of the same thread's nearest sample within 2 ms: ") +
                          string.Join(", ", p.SyscallsByNeighbour.Take(8).Select(x => F($"{x.Stage} {p.MsPerOrder(x.Samples):F3}"))));
            md.AppendLine();
        }

        md.AppendLine("System.Text.Json by its caller (the first frame above the outermost JSON frame), ms per order:");
        md.AppendLine();
        md.AppendLine("| target | stage | caller of System.Text.Json | ms/order |");
        md.AppendLine("|---|---|---|---|");
        foreach (var p in profiles)
        foreach (var (stage, frame, samples) in p.JsonByFrame.Take(12))
            md.AppendLine(F($"| {p.Target} | {stage} | `{frame}` | {p.MsPerOrder(samples):F3} |"));
        md.AppendLine();

        md.AppendLine("**Allocations and GC** (the runtime's events over EventPipe, same window):");
        md.AppendLine();
        md.AppendLine("| | OrderEvents | bare | ratio |");
        md.AppendLine("|---|---|---|---|");
        Row(md, "allocated per order (KiB)", service, bare, p => p.Runtime.AllocatedBytes / 1024.0 / p.Orders, "F1");
        Row(md, "gen0 / gen1 / gen2 collections per 1,000 orders", service, bare, null, "", p => F($"{1000.0 * p.Runtime.Collections[0] / p.Orders:F1} / {1000.0 * p.Runtime.Collections[1] / p.Orders:F2} / {1000.0 * p.Runtime.Collections[2] / p.Orders:F2}"));
        Row(md, "GC pause time per order (ms)", service, bare, p => p.Runtime.PauseMs / p.Orders, "F3");
        Row(md, "GC heap after the last GC before the traffic ended (MiB)", service, bare, p => p.Runtime.HeapBytesAtTrafficEnd / 1048576.0, "F0");
        Row(md, "GC pauses inside the perf window / all (clock check)", service, bare, null, "", p => F($"{p.Runtime.PausesInsideSamples} / {p.Runtime.Pauses}"));
        md.AppendLine();
        foreach (var p in profiles)
        {
            md.AppendLine(F($"Top allocated types of {p.Target} (sampled every ~100 KB; share of all bytes allocated, KiB per order):"));
            md.AppendLine();
            var all = Math.Max(1, p.Runtime.AllocatedBytes);
            md.AppendLine(string.Join("; ", p.Runtime.TopTypes.Take(12).Select(t => F($"`{t.Type}` {t.Bytes / (double)all:P0} ({t.Bytes / 1024.0 / p.Orders:F1})"))));
            md.AppendLine();
        }

        md.AppendLine("**PostgreSQL** (statistics deltas over the same window; the bench's own drain polls excluded):");
        md.AppendLine();
        md.AppendLine("| | OrderEvents | bare | ratio |");
        md.AppendLine("|---|---|---|---|");
        Row(md, "PostgreSQL CPU per order (ms)", service, bare, p => p.PostgresCpuMs / p.Orders, "F3");
        Row(md, "commits per order", service, bare, p => p.Commits / (double)p.Orders, "F2");
        Row(md, "statements per order (top level)", service, bare, p => TopLevel(p).Sum(s => s.Calls) / (double)p.Orders, "F2");
        Row(md, "statement execution time per order (ms, top level)", service, bare, p => TopLevel(p).Sum(s => s.TotalMs) / p.Orders, "F3");
        Row(md, "rows inserted / updated / deleted per order", service, bare, null, "", p => F($"{p.Database.Tables.Values.Sum(t => t.Inserted) / (double)p.Orders:F2} / {p.Database.Tables.Values.Sum(t => t.Updated) / (double)p.Orders:F2} / {p.Database.Tables.Values.Sum(t => t.Deleted) / (double)p.Orders:F2}"));
        Row(md, "WAL per order (bytes; records)", service, bare, null, "", p => F($"{p.Database.Database.WalBytes / p.Orders:F0}; {p.Database.Database.WalRecords / (double)p.Orders:F1}"));
        Row(md, "WAL full-page images per 1,000 orders", service, bare, p => 1000.0 * p.Database.Database.WalFullPages / p.Orders, "F0");
        md.AppendLine();
        foreach (var p in profiles)
        {
            md.AppendLine(F($"PostgreSQL CPU of {p.Target} by process (ms per order): ") +
                          string.Join(", ", p.Database.CpuByProcessKind.Where(k => k.Value > 0).OrderByDescending(k => k.Value).Select(k => F($"{k.Key} {k.Value / p.Orders:F3}"))));
            md.AppendLine();
            md.AppendLine($"Rows per order by table, {p.Target} (inserted / updated (HOT) / deleted):");
            md.AppendLine();
            md.AppendLine("| table | ins | upd (hot) | del |");
            md.AppendLine("|---|---|---|---|");
            foreach (var (table, t) in p.Database.Tables.Where(t => t.Value.Any).OrderByDescending(t => t.Value.Inserted + t.Value.Updated + t.Value.Deleted))
                md.AppendLine(F($"| {table} | {t.Inserted / (double)p.Orders:F2} | {t.Updated / (double)p.Orders:F2} ({t.HotUpdated / (double)p.Orders:F2}) | {t.Deleted / (double)p.Orders:F2} |"));
            md.AppendLine();
            md.AppendLine($"Statements of {p.Target} by total time (pg_stat_statements; per order; \"nested\" = run inside a function, already in its caller's time):");
            md.AppendLine();
            md.AppendLine("| calls/order | rows/call | mean ms | ms/order | WAL bytes/order | statement |");
            md.AppendLine("|---|---|---|---|---|---|");
            foreach (var ((_, top), s) in Statements(p).OrderByDescending(x => x.Value.TotalMs).Take(20))
                md.AppendLine(F($"| {s.Calls / (double)p.Orders:F2} | {s.Rows / (double)s.Calls:F1} | {s.TotalMs / s.Calls:F3} | {s.TotalMs / p.Orders:F3} | {s.WalBytes / p.Orders:F0} | {(top ? "" : "(nested) ")}`{Query(s.Query)}` |"));
            md.AppendLine();
        }

        md.AppendLine("**Memory** (/proc at the end of the burst's traffic, and after the run; the heap dump after the run):");
        md.AppendLine();
        md.AppendLine("| | OrderEvents | bare | ratio |");
        md.AppendLine("|---|---|---|---|");
        Row(md, "RSS at the end of the traffic (MiB)", service, bare, p => Kib(p.MemoryAtTrafficEnd?.StatusKib, "VmRSS"), "F0");
        Row(md, "  of which anonymous (heap, stacks, native buffers) (MiB)", service, bare, p => Kib(p.MemoryAtTrafficEnd?.StatusKib, "RssAnon"), "F0");
        Row(md, "  of which file-backed (assemblies, native libraries) (MiB)", service, bare, p => Kib(p.MemoryAtTrafficEnd?.StatusKib, "RssFile"), "F0");
        Row(md, "peak RSS so far (VmHWM, MiB)", service, bare, p => Kib(p.MemoryAtTrafficEnd?.StatusKib, "VmHWM"), "F0");
        Row(md, "mapped managed assemblies (.dll)", service, bare, p => p.MemoryAtEnd.MappedFiles.Count(f => f.EndsWith(".dll", StringComparison.Ordinal)), "F0");
        Row(md, "resident size of mapped .dll files (MiB)", service, bare, p => p.MemoryAtEnd.ByMapping.Where(m => m.Mapping.EndsWith(".dll", StringComparison.Ordinal)).Sum(m => m.RssKib) / 1024.0, "F0");
        Row(md, "Roslyn (Microsoft.CodeAnalysis*) mapped", service, bare, null, "", p => Roslyn(p));
        md.AppendLine();
        foreach (var p in profiles)
        {
            md.AppendLine($"Largest resident mappings of {p.Target} after the run (MiB): " + string.Join(", ",
                p.MemoryAtEnd.ByMapping.Take(12).Select(m => F($"{(Path.GetFileName(m.Mapping) is { Length: > 0 } n ? n : m.Mapping)} {m.RssKib / 1024.0:F1}"))));
            md.AppendLine();
            md.AppendLine($"Heap of {p.Target} after the run (dotnet-gcdump, which collects first: the live objects; top types by total size):");
            md.AppendLine();
            md.AppendLine("```");
            foreach (var line in p.HeapTopTypes.Take(24)) md.AppendLine(line.TrimEnd());
            md.AppendLine("```");
            md.AppendLine();
        }

        md.AppendLine("**How honest the classification is**: samples per rule, unclassified stacks, threads.");
        md.AppendLine();
        foreach (var p in profiles)
        {
            md.AppendLine($"<details><summary>{p.Target}: rules, unclassified, threads</summary>");
            md.AppendLine();
            md.AppendLine("| stage | rule (frame fragment or thread/time test) | share of all samples |");
            md.AppendLine("|---|---|---|");
            foreach (var stage in p.Stages)
            foreach (var (rule, samples) in stage.Rules.Take(4))
                md.AppendLine(F($"| {stage.Stage.Name} | `{(rule.Length > 0 ? rule : "(none)")}` | {samples / (double)p.Samples:P1} |"));
            md.AppendLine();
            md.AppendLine("Top unclassified stacks (leaf first, 4 frames):");
            md.AppendLine();
            foreach (var (stack, samples) in p.Unclassified.Take(10)) md.AppendLine(F($"- {samples / (double)p.Samples:P2}: `{stack}`"));
            md.AppendLine();
            md.AppendLine("Samples by thread: " + string.Join(", ", p.Threads.Take(10).Select(t => F($"{t.Thread} {t.Samples / (double)p.Samples:P1}"))));
            md.AppendLine();
            md.AppendLine("</details>");
            md.AppendLine();
        }

        return md.ToString();
    }

    /// <summary>The group of a stage, from its name: HTTP, the order's write, the outbox, the consumer side, background, runtime, I/O without a caller.</summary>
    public static string GroupOf(Stage stage) => stage.Name switch
    {
        var n when n.StartsWith("HTTP:", StringComparison.Ordinal) => "HTTP request (server, auth, guards, binding, validation, response)",
        var n when n.StartsWith("order:", StringComparison.Ordinal) || n.StartsWith("Marten", StringComparison.Ordinal) => "order write (lookup, handler, append + projection + commit)",
        var n when n.StartsWith("outbox:", StringComparison.Ordinal) => "outbox (write, relay, produce, delete)",
        var n when n.StartsWith("listener:", StringComparison.Ordinal) || n.StartsWith("inbox:", StringComparison.Ordinal)
                   || n.StartsWith("notifications:", StringComparison.Ordinal) || n.StartsWith("consumer:", StringComparison.Ordinal)
            => "consumer side (listener, inbox, notification batch)",
        var n when n.StartsWith("background", StringComparison.Ordinal) || n.StartsWith("telemetry", StringComparison.Ordinal) => "background and telemetry",
        var n when n.StartsWith("GC", StringComparison.Ordinal) || n.StartsWith("JIT", StringComparison.Ordinal) || n.StartsWith("thread pool", StringComparison.Ordinal)
            => "runtime (GC, JIT, thread pool)",
        var n when n.StartsWith("socket", StringComparison.Ordinal) || n.StartsWith("Npgsql", StringComparison.Ordinal) || n.StartsWith("librdkafka", StringComparison.Ordinal)
            => "I/O whose caller is not on the stack (socket syscalls, epoll, Npgsql resumed) and librdkafka's threads",
        var n when n.StartsWith("the bench's", StringComparison.Ordinal) => "profiling overhead",
        _ => "unclassified",
    };

    private static double GroupMs(CostProfile p, string group) => p.MsPerOrder(p.Stages.Where(s => GroupOf(s.Stage) == group).Sum(s => s.Samples));

    private static IEnumerable<KeyValuePair<(long, bool), StatementStats>> Statements(CostProfile p) =>
        p.Database.Statements.Where(s => !p.ExcludedStatements.Any(e => Normalize(e) == Normalize(s.Value.Query)) && !s.Value.Query.Contains("pg_stat_user_tables", StringComparison.Ordinal));

    private static IEnumerable<StatementStats> TopLevel(CostProfile p) => Statements(p).Where(s => s.Key.Item2).Select(s => s.Value);

    private static string Normalize(string sql) => string.Join(' ', sql.Split((char[])[' ', '\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries));

    private static string Query(string query)
    {
        query = Normalize(query).Replace("|", "\\|").Replace("`", "'");
        return query.Length > 160 ? query[..160] + "…" : query;
    }

    private static string Roslyn(CostProfile p)
    {
        var roslyn = p.MemoryAtEnd.ByMapping.Where(m => Path.GetFileName(m.Mapping).StartsWith("Microsoft.CodeAnalysis", StringComparison.Ordinal)).ToList();
        return roslyn.Count == 0 ? "no" : F($"yes: {string.Join(", ", roslyn.Select(m => Path.GetFileName(m.Mapping)).Distinct())} ({roslyn.Sum(m => m.RssKib) / 1024.0:F1} MiB resident)");
    }

    private static double Kib(Dictionary<string, long>? values, string key) => values?.GetValueOrDefault(key) is { } kib and > 0 ? kib / 1024.0 : double.NaN;

    private static void Row(StringBuilder md, string label, CostProfile? s, CostProfile? b, Func<CostProfile, double>? value, string format, Func<CostProfile, string>? text = null)
    {
        string Cell(CostProfile? p) => p is null || p.Orders == 0 ? "–" : text is not null ? text(p) : value!(p).ToString(format, CultureInfo.InvariantCulture);
        var ratio = value is not null && s is { Orders: > 0 } && b is { Orders: > 0 } && value(b) != 0 ? (value(s) / value(b)).ToString("0.00", CultureInfo.InvariantCulture) + "×" : "";
        md.AppendLine($"| {label} | {Cell(s)} | {Cell(b)} | {ratio} |");
    }

    private static string Number(double value) => double.IsNaN(value) ? "–" : value.ToString("F3", CultureInfo.InvariantCulture);

    private static string Ms(CostProfile? p, StageCost? stage) => p is null || stage is null ? "–" : p.MsPerOrder(stage).ToString("F3", CultureInfo.InvariantCulture);
    private static string Share(CostProfile? p, StageCost? stage) => p is null || stage is null ? "–" : p.Share(stage).ToString("P1", CultureInfo.InvariantCulture);
    private static string Total(CostProfile? p) => p is null || p.Orders == 0 ? "–" : (p.ProcessCpuMs / p.Orders).ToString("F3", CultureInfo.InvariantCulture);

    private static string Relative(string path)
    {
        var index = path.IndexOf("artifacts/", StringComparison.Ordinal);
        return index >= 0 ? path[index..] : path;
    }

    private static string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
