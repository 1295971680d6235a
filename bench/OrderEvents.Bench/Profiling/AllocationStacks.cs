using System.Globalization;
using Microsoft.Diagnostics.Tracing.Etlx;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

namespace OrderEvents.Bench.Profiling;

/// <summary>
/// <c>allocation-stacks FILE.nettrace [FROM_SECONDS [TO_SECONDS]]</c>: where the allocations of a traced run come from.
/// Reads the runtime's AllocationTick events (one per ~100 KB allocated, naming the type that crossed the mark) with
/// their stacks from a trace the target wrote itself, and sums the sampled bytes by allocating type, by the innermost
/// frame outside the base class library and runtime (the code that asked for the memory), and by whole stacks.
/// <para>
/// Record it with the runtime's own start-up session (docs/benchmarks.md): <c>--service-env DOTNET_EnableEventPipe=1
/// --service-env DOTNET_EventPipeOutputPath=DIR/trace_{pid}.nettrace --service-env
/// DOTNET_EventPipeConfig=Microsoft-Windows-DotNETRuntime:0x19:5 --service-env DOTNET_ReadyToRun=0</c> (GC, loader and
/// JIT keywords: the method names come from the JIT's own events and the rundown at exit; without ReadyToRun every
/// frame is JIT-compiled and therefore named). The window (seconds after the trace started) leaves out start-up.
/// </para>
/// </summary>
public static class AllocationStacks
{
    public static Task<int> RunAsync(string[] args)
    {
        if (args.Length < 1)
        {
            Console.Error.WriteLine("allocation-stacks FILE.nettrace [FROM_SECONDS [TO_SECONDS]]");
            return Task.FromResult(2);
        }

        var from = args.Length > 1 ? double.Parse(args[1], CultureInfo.InvariantCulture) * 1000 : 0;
        var to = args.Length > 2 ? double.Parse(args[2], CultureInfo.InvariantCulture) * 1000 : double.MaxValue;
        using var log = new TraceLog(TraceLog.CreateFromEventPipeDataFile(args[0]));

        var byType = new Dictionary<string, long>();
        var bySite = new Dictionary<string, long>();
        var byLibrary = new Dictionary<string, long>();
        var byStack = new Dictionary<string, long>();
        long total = 0, ticks = 0;
        foreach (var tick in log.Events.ByEventType<GCAllocationTickTraceData>())
        {
            if (tick.TimeStampRelativeMSec < from || tick.TimeStampRelativeMSec > to) continue;
            var bytes = tick.AllocationAmount64;
            total += bytes;
            ticks++;
            Add(byType, tick.TypeName ?? "?", bytes);
            var frames = Frames(tick.CallStack()).ToList();
            var site = frames.FirstOrDefault(frame => !IsFramework(frame)) ?? "(framework only)";
            Add(bySite, site, bytes);
            Add(byLibrary, site.Split('!')[0], bytes);
            Add(byStack, string.Join("\n      ", frames.Take(14)), bytes);
        }

        Console.WriteLine($"{ticks} allocation ticks, {total / 1024.0 / 1024.0:F0} MiB sampled between {from / 1000:F0} s and {(to == double.MaxValue ? "the end" : $"{to / 1000:F0} s")}");
        Print("By type", byType, total, 25);
        Print("By the library of that frame", byLibrary, total, 25);
        Print("By the innermost frame outside the base class library (who asked for the memory)", bySite, total, 45);
        Print("Heaviest stacks (innermost frame first)", byStack, total, 30);
        return Task.FromResult(0);
    }

    private static IEnumerable<string> Frames(TraceCallStack? stack)
    {
        for (; stack is not null; stack = stack.Caller)
        {
            var address = stack.CodeAddress;
            var method = address.FullMethodName;
            yield return string.IsNullOrEmpty(method) ? $"[{address.ModuleName}]" : $"{address.ModuleName}!{method}";
        }
    }

    /// <summary>The base class library and the runtime: allocations they make count for their caller.</summary>
    private static bool IsFramework(string frame) =>
        frame.StartsWith("System.", StringComparison.Ordinal) || frame.StartsWith("[", StringComparison.Ordinal)
        || frame.StartsWith("coreclr", StringComparison.OrdinalIgnoreCase) || frame.StartsWith("libcoreclr", StringComparison.OrdinalIgnoreCase)
        || frame.StartsWith("Microsoft.Extensions.", StringComparison.Ordinal) || frame.StartsWith("?", StringComparison.Ordinal);

    private static void Add(Dictionary<string, long> sums, string key, long bytes) =>
        sums[key] = sums.GetValueOrDefault(key) + bytes;

    private static void Print(string title, Dictionary<string, long> sums, long total, int top)
    {
        Console.WriteLine();
        Console.WriteLine($"## {title}");
        foreach (var (key, bytes) in sums.OrderByDescending(pair => pair.Value).Take(top))
            Console.WriteLine($"{100.0 * bytes / total,5:F1} %  {key}");
    }
}
