using OrderEvents.Bench.Load;

namespace OrderEvents.Bench;

/// <summary>One measured phase: its traffic, then the drain, event lag, CPU and commits over traffic + drain.</summary>
public sealed record PhaseResult(
    string Name,
    Traffic Traffic,
    bool Drained,
    double DrainSeconds,
    Percentiles Lag,
    double ServiceCpuMs,
    double PostgresCpuMs,
    long Commits,
    double RssMib)
{
    public int Orders => Traffic.CreatedOrders.Count;

    /// <summary>The machine probe's median over the traffic: ns per step of its 8 MiB walk (Harness/MachineProbe.cs).</summary>
    public double MachineProbeNs { get; init; } = double.NaN;

    /// <summary>Orders / (traffic + drain until every notification is stored).</summary>
    public double EndToEndRate => Orders / (Traffic.ElapsedSeconds + DrainSeconds);

    public double Per(double total, long count) => count > 0 ? total / count : double.NaN;
}

public sealed record StepResult(double Rate, double Achieved, Percentiles Post, int Errors, bool Passed);

public sealed class TargetResult(string name)
{
    public string Name { get; } = name;
    /// <summary>Seconds from the process start to its first HTTP answer.</summary>
    public double StartupSeconds { get; set; } = double.NaN;
    public PhaseResult? Cold { get; set; }
    public PhaseResult? CreateOnly { get; set; }
    public PhaseResult? Mixed { get; set; }
    public PhaseResult? Burst { get; set; }
    /// <summary>--rounds: this target's bursts, one per round.</summary>
    public List<PhaseResult> Rounds { get; } = [];
    public List<StepResult> Steps { get; } = [];
    public double PeakRssMib { get; set; } = double.NaN;
    public double EndRssMib { get; set; } = double.NaN;
    public string? Failure { get; set; }
    public double IdleServiceCpuPercent { get; set; } = double.NaN;
    public double IdlePostgresCpuPercent { get; set; } = double.NaN;
    /// <summary>--profile: the burst's cost per order by stage, allocations, PostgreSQL and memory.</summary>
    public Profiling.CostProfile? Profile { get; set; }

    /// <summary>The slowest request of any measured phase (ms).</summary>
    public double SlowestRequestMs => new[] { Cold, CreateOnly, Mixed, Burst }.Where(p => p is not null)
        .SelectMany(p => p!.Traffic.ByOperation.Values).Select(l => l.Summary().Max)
        .Concat(Steps.Select(s => s.Post.Max)).Where(m => !double.IsNaN(m)).DefaultIfEmpty(double.NaN).Max();

    public double MaxSustainedRate => Steps.Where(s => s.Passed).Select(s => s.Rate).DefaultIfEmpty(double.NaN).Max();

    /// <summary>"329", or "&lt; 150" when even the first step failed, or "≥ 940" when the last step still passed.</summary>
    public string DescribeMaxSustainedRate() => Steps.Count == 0 ? "–"
        : !Steps[0].Passed ? $"< {Steps[0].Rate:F0}"
        : Steps[^1].Passed ? $"≥ {Steps[^1].Rate:F0}"
        : $"{MaxSustainedRate:F0}";
}
