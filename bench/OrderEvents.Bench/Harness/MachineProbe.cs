using System.Diagnostics;
using System.Runtime.InteropServices;

namespace OrderEvents.Bench.Harness;

/// <summary>
/// How fast the machine itself is right now. This machine's last-level cache is shared with other tenants of its host, and
/// on an idle machine a walk of 8 MiB of memory took from 28 to 115 ns per step within two minutes, while plain
/// arithmetic changed by 10 %: a process with a large working set slows down with it (docs/benchmarks.md, "The machine's
/// speed"). Once a second, on its own thread, the probe times 100,000 steps of a random pointer chase through 8 MiB in
/// the thread's own CPU time (so waiting for a core does not count) — 3 to 12 ms of one core per second.
/// </summary>
public sealed class MachineProbe : IDisposable
{
    private const int Steps = 100_000;
    private readonly int[] _cycle = RandomCycle(8 * 1024 * 1024 / sizeof(int));
    private readonly List<(long Timestamp, double NanosecondsPerStep)> _readings = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private volatile int _lastPosition;

    public MachineProbe()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = "machine probe" };
        _thread.Start();
    }

    /// <summary>
    /// `machine-probe [seconds]`: the probe alone, one line per reading (UTC time, ns per step), then the range and median;
    /// run it on an idle machine to see what state the machine is in before a benchmark.
    /// </summary>
    public static async Task<int> RunCommandAsync(string[] args)
    {
        var seconds = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 30;
        using var probe = new MachineProbe();
        var start = Stopwatch.GetTimestamp();
        var printed = 0;
        while (Stopwatch.GetElapsedTime(start) < TimeSpan.FromSeconds(seconds))
        {
            await Task.Delay(200);
            lock (probe._readings)
                for (; printed < probe._readings.Count; printed++)
                    Console.WriteLine(System.FormattableString.Invariant($"{DateTime.UtcNow:HH:mm:ss} {probe._readings[printed].NanosecondsPerStep:F1} ns per step"));
        }

        var all = probe.SortedBetween(long.MinValue, long.MaxValue);
        if (all.Length > 0)
            Console.WriteLine(System.FormattableString.Invariant($"{all.Length} readings: {all[0]:F1}–{all[^1]:F1} ns per step, median {Median.Of(all):F1}"));
        return 0;
    }

    /// <summary>The median reading between two Stopwatch timestamps (NaN when none was taken).</summary>
    public double MedianBetween(long from, long to)
    {
        var readings = SortedBetween(from, to);
        return readings.Length == 0 ? double.NaN : Median.Of(readings);
    }

    private double[] SortedBetween(long from, long to)
    {
        lock (_readings) return _readings.Where(r => r.Timestamp >= from && r.Timestamp <= to).Select(r => r.NanosecondsPerStep).Order().ToArray();
    }

    private void Run()
    {
        var position = 0;
        while (!_stop.IsCancellationRequested)
        {
            var before = ThreadCpuNanoseconds();
            for (var i = 0; i < Steps; i++) position = _cycle[position];
            var reading = (ThreadCpuNanoseconds() - before) / (double)Steps;
            _lastPosition = position; // kept, so the walk is not optimised away
            lock (_readings) _readings.Add((Stopwatch.GetTimestamp(), reading));
            _stop.Token.WaitHandle.WaitOne(TimeSpan.FromSeconds(1));
        }
    }

    /// <summary>One cycle through every slot in random order (Sattolo's algorithm), so the walk never settles in a small loop.</summary>
    private static int[] RandomCycle(int length)
    {
        var cycle = new int[length];
        for (var i = 0; i < length; i++) cycle[i] = i;
        var random = new Random(23);
        for (var i = length - 1; i > 0; i--)
        {
            var j = random.Next(i);
            (cycle[i], cycle[j]) = (cycle[j], cycle[i]);
        }

        return cycle;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    private const int ClockThreadCpuTime = 3; // CLOCK_THREAD_CPUTIME_ID

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out Timespec time);

    private static long ThreadCpuNanoseconds() => ClockGetTime(ClockThreadCpuTime, out var time) == 0 ? time.Seconds * 1_000_000_000 + time.Nanoseconds : 0;

    public void Dispose()
    {
        _stop.Cancel();
        _thread.Join(TimeSpan.FromSeconds(5));
        _stop.Dispose();
    }
}
