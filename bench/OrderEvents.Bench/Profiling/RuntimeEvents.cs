using System.Diagnostics.Tracing;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing;
using Microsoft.Diagnostics.Tracing.Parsers;

// TimeStampQPC is "discouraged" in favour of session-relative times; the raw clock is what lines up with perf.
#pragma warning disable CS0618

namespace OrderEvents.Bench.Profiling;

/// <summary>
/// The runtime's own GC and allocation events of the target, over an EventPipe session (the diagnostics port every .NET
/// process opens): GC keyword at Verbose level, no stack walks, no rundown, so the target pays only for writing a few
/// hundred small events a second. Gives the bytes allocated (the sum of the AllocationTick events, one per ~100 KB
/// allocated, each carrying the amount since the last one and the type that crossed the threshold, so a sample of
/// allocations by type), the number of GCs per generation, and every pause (SuspendEE start to RestartEE end) with the
/// thread that ran it: perf samples of that thread inside a pause are the GC's work (<see cref="StageClassifier"/>).
/// </summary>
public sealed class RuntimeEvents : IAsyncDisposable
{
    private readonly EventPipeSession _session;
    private readonly EventPipeEventSource _source;
    private readonly Task _processing;
    private readonly object _gate = new();
    private (int Tid, long StartQpc)? _suspension;
    private int _currentGeneration = -1;

    private RuntimeEvents(EventPipeSession session)
    {
        _session = session;
        _source = new EventPipeEventSource(session.EventStream);
        _source.Clr.GCAllocationTick += e =>
        {
            lock (_gate)
            {
                AllocatedBytes += e.AllocationAmount64;
                AllocationTicks++;
                var type = string.IsNullOrEmpty(e.TypeName) ? "(unknown type)" : e.TypeName;
                if (e.AllocationKind == Microsoft.Diagnostics.Tracing.Parsers.Clr.GCAllocationKind.Large) type += " (LOH)";
                AllocatedByType[type] = AllocatedByType.GetValueOrDefault(type) + e.AllocationAmount64;
            }
        };
        _source.Clr.GCStart += e =>
        {
            lock (_gate)
            {
                _currentGeneration = e.Depth;
                if (e.Depth is >= 0 and <= 2) Collections[e.Depth]++;
            }
        };
        _source.Clr.GCSuspendEEStart += e =>
        {
            lock (_gate) _suspension = (e.ThreadID, e.TimeStampQPC);
        };
        _source.Clr.GCRestartEEStop += e =>
        {
            lock (_gate)
            {
                if (_suspension is not { } s) return;
                Pauses.Add(new GcPause(s.Tid, QpcToNs(s.StartQpc), QpcToNs(e.TimeStampQPC), _currentGeneration));
                _suspension = null;
                _currentGeneration = -1;
            }
        };
        _source.Clr.GCHeapStats += e =>
        {
            lock (_gate) LastHeapBytes = e.TotalHeapSize;
        };
        _processing = Task.Run(() => _source.Process());
    }

    public long AllocatedBytes { get; private set; }
    public long AllocationTicks { get; private set; }
    public Dictionary<string, long> AllocatedByType { get; } = [];
    public int[] Collections { get; } = new int[3];
    public List<GcPause> Pauses { get; } = [];
    public long LastHeapBytes { get; private set; }

    /// <summary>The GC heap after the last collection before <see cref="MarkTrafficEnd"/> (the burst's traffic stopped).</summary>
    public long HeapBytesAtTrafficEnd { get; private set; }

    public void MarkTrafficEnd()
    {
        lock (_gate) HeapBytesAtTrafficEnd = LastHeapBytes;
    }

    public double PauseMilliseconds => Pauses.Sum(p => (p.EndNs - p.StartNs) / 1e6);

    // EventPipe's raw timestamps on Linux are CLOCK_MONOTONIC nanoseconds (the runtime's QueryPerformanceCounter, frequency
    // 1e9); perf records with -k CLOCK_MONOTONIC: the same clock. The report checks that the pauses fall inside the samples.
    private static long QpcToNs(long qpc) => qpc;

    public static RuntimeEvents Start(int pid)
    {
        var client = new DiagnosticsClient(pid);
        var gc = new EventPipeProvider(ClrTraceEventParser.ProviderName, EventLevel.Verbose, (long)ClrTraceEventParser.Keywords.GC);
        var session = client.StartEventPipeSession(new EventPipeSessionConfiguration([gc], circularBufferSizeMB: 64, requestRundown: false, requestStackwalk: false));
        return new RuntimeEvents(session);
    }

    public async Task StopAsync()
    {
        try
        {
            await _session.StopAsync(CancellationToken.None);
        }
        catch (Exception e) when (e is ServerNotAvailableException or IOException)
        {
            // The target is gone: what was read so far stands.
        }

        await _processing.WaitAsync(TimeSpan.FromSeconds(30));
    }

    public async ValueTask DisposeAsync()
    {
        if (!_processing.IsCompleted) await StopAsync();
        _source.Dispose();
        _session.Dispose();
    }
}

/// <summary>A GC pause: the thread that suspended the runtime and ran the collection, from suspension to restart (ns, CLOCK_MONOTONIC).</summary>
public sealed record GcPause(int Tid, long StartNs, long EndNs, int Generation);
