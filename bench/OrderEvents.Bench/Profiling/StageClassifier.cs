namespace OrderEvents.Bench.Profiling;

/// <summary>A stage of the work for one order, and the promise it buys (empty when it buys none by itself).</summary>
public sealed record Stage(string Name, string Buys = "");

/// <summary>
/// A rule: a sample whose call chain has a frame matching <see cref="Frame"/> (on <see cref="Profiling.Frame.Method"/>)
/// belongs to <see cref="Stage"/>. The rules are tried frame by frame from the leaf towards the root, and at each frame
/// in their order: the innermost frame that a rule recognises decides, so Npgsql, System.Text.Json, kernel and runtime
/// frames (which no rule names) count for the stage of the first recognised frame above them. Fallback rules (a
/// library's namespace, e.g. Marten) are tried only when no other rule recognised any frame: inside an order's request
/// the step that called Marten (the product lookup, SaveChanges) decides, not Marten's own frames.
/// </summary>
public sealed record StageRule(Stage Stage, string Pattern, Func<string, bool> Frame, bool Fallback = false);

/// <summary>What one sample was spent on: its stage, the rule that decided, and what ran at its leaf.</summary>
public sealed record Classified(Stage Stage, string Rule, string Leaf, bool InJson, string Decider = "");

/// <summary>
/// Assigns each perf sample of a target to a stage: first by time and thread (GC pauses from the runtime's own events,
/// the background GC, JIT, librdkafka's threads), then by the ordered frame rules of the target, then to catch-alls
/// for work whose caller is not on the stack (an async continuation resumed by a socket completion shows only the
/// resumed method and the thread pool below it). Everything not recognised is "unclassified", with its top frames in
/// the report.
/// </summary>
public sealed class StageClassifier(IReadOnlyList<StageRule> rules, IReadOnlyList<GcPause> pauses)
{
    public static readonly Stage Gc = new("GC (collections, from the runtime's pause events)", "memory safety; grows with allocations");
    public static readonly Stage Jit = new("JIT and tiered compilation");
    public static readonly Stage KafkaNative = new("librdkafka's own threads (producer + consumer protocol, compression, socket I/O)", "the Kafka hop");
    public static readonly Stage ThreadPool = new("thread pool: dispatch, wake-ups, waiting (no work item on the stack)");
    public static readonly Stage NpgsqlOrphan = new("Npgsql resumed by a socket completion (its caller not on the stack)");
    public static readonly Stage SocketsOrphan = new("sockets and epoll (no caller on the stack)");
    public static readonly Stage SocketSyscallOrphan = new("socket send()/recv() syscalls, caller lost (kernel loopback TCP, both ends' work)");
    private static readonly HashSet<string> SocketSyscalls = ["__send", "__libc_recv", "__libc_sendmsg", "__libc_recvmsg", "__libc_send", "recv", "send"];
    public static readonly Stage Unclassified = new("unclassified");
    public static readonly Stage Profiler = new("the bench's EventPipe session (profiling overhead, not the target's work)");

    private readonly Dictionary<int, List<GcPause>> _pausesByThread = pauses.GroupBy(p => p.Tid).ToDictionary(g => g.Key, g => g.OrderBy(p => p.StartNs).ToList());

    public Classified Classify(PerfSample sample)
    {
        var leaf = LeafKind(sample.Frames);
        var json = sample.Frames.Any(f => f.Method.StartsWith("System.Text.Json", StringComparison.Ordinal));
        if (InPause(sample)) return new(Gc, "thread and time inside a GC pause (EventPipe SuspendEE..RestartEE)", leaf, false);
        if (sample.Thread.StartsWith(".NET BGC", StringComparison.Ordinal) || sample.Thread.StartsWith(".NET Server GC", StringComparison.Ordinal))
            return new(Gc, "thread '.NET BGC' (background GC)", leaf, false);
        if (sample.Thread.StartsWith(".NET Tiered", StringComparison.Ordinal) || sample.Frames.Any(f => f.DsoName == "libclrjit.so"))
            return new(Jit, "libclrjit.so on the stack or thread '.NET Tiered Com'", leaf, false);
        if (sample.Thread.StartsWith("rdk:", StringComparison.Ordinal)) return new(KafkaNative, "thread 'rdk:*' (librdkafka)", leaf, false);
        if (sample.Thread.StartsWith(".NET EventPipe", StringComparison.Ordinal)) return new(Profiler, "thread '.NET EventPipe'", leaf, false);

        // Innermost recognised frame decides (stage rules first, then fallbacks); the JSON flag: System.Text.Json frames below it.
        foreach (var fallback in (bool[])[false, true])
        for (var i = 0; i < sample.Frames.Length; i++)
        {
            var method = sample.Frames[i].Method;
            foreach (var rule in rules)
            {
                if (rule.Fallback != fallback || !rule.Frame(method)) continue;
                var jsonBelow = false;
                for (var j = 0; j < i; j++)
                    if (sample.Frames[j].Method.StartsWith("System.Text.Json", StringComparison.Ordinal)) jsonBelow = true;
                return new(rule.Stage, rule.Pattern, leaf, jsonBelow, method);
            }
        }

        if (sample.Frames.Where(f => !f.IsKernel).Select(f => f.Method).ToArray() is [var only] && SocketSyscalls.Contains(only))
            return new(SocketSyscallOrphan, $"{only} alone: glibc's wrapper reuses rbp, so the frame-pointer chain ends there", leaf, json);
        if (sample.Frames.Any(f => f.Method.StartsWith("Npgsql", StringComparison.Ordinal) || f.Method == "[Npgsql.dll]"))
            return new(NpgsqlOrphan, "Npgsql frames, no stage frame above", leaf, json);
        if (sample.Frames.Any(f => f.Method.StartsWith("System.Net.Sockets", StringComparison.Ordinal) || f.Method == "[System.Net.Sockets.dll]"))
            return new(SocketsOrphan, "System.Net.Sockets frames, no stage frame above", leaf, json);
        if (sample.Frames.Any(IsThreadPool) || sample.Thread.StartsWith(".NET TP", StringComparison.Ordinal) || sample.Thread.StartsWith(".NET ThreadPool", StringComparison.Ordinal))
            return new(ThreadPool, "thread-pool frames or a thread-pool thread, no work item frame", leaf, json);
        return new(Unclassified, "", leaf, json);
    }

    private static bool IsThreadPool(Frame frame) =>
        frame.Method.StartsWith("System.Threading.PortableThreadPool", StringComparison.Ordinal)
        || frame.Method.StartsWith("System.Threading.ThreadPoolWorkQueue", StringComparison.Ordinal)
        || frame.Method.StartsWith("System.Threading.LowLevelLifoSemaphore", StringComparison.Ordinal)
        || frame.Method.StartsWith("System.Threading.WaitSubsystem", StringComparison.Ordinal);

    private bool InPause(PerfSample sample)
    {
        if (!_pausesByThread.TryGetValue(sample.Tid, out var list)) return false;
        // Few pauses per thread: a linear scan is fine.
        foreach (var pause in list)
            if (sample.TimeNs >= pause.StartNs && sample.TimeNs <= pause.EndNs) return true;
        return false;
    }

    /// <summary>What ran at the leaf: the kernel, the runtime's native code, other native code, or managed code.</summary>
    public static string LeafKind(Frame[] frames)
    {
        if (frames.Length == 0) return "none";
        var leaf = frames[0];
        if (leaf.IsKernel) return "kernel";
        if (leaf.DsoName is "libcoreclr.so" or "libclrgc.so") return "runtime native (libcoreclr)";
        if (leaf.Dso.StartsWith("/tmp/perf-", StringComparison.Ordinal) || leaf.DsoName.EndsWith(".dll", StringComparison.Ordinal)) return "managed";
        if (leaf.DsoName.StartsWith("libc", StringComparison.Ordinal)) return "libc";
        return "other native";
    }

    /// <summary>A rule matching frames whose method ("Namespace.Type::Method") contains any of <paramref name="fragments"/>.</summary>
    public static StageRule Rule(Stage stage, params string[] fragments) =>
        new(stage, string.Join(" | ", fragments), method => fragments.Any(f => method.Contains(f, StringComparison.Ordinal)));

    /// <summary>A fallback rule (see <see cref="StageRule"/>).</summary>
    public static StageRule Fallback(Stage stage, params string[] fragments) => Rule(stage, fragments) with { Fallback = true };
}
