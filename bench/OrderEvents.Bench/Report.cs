using System.Globalization;
using System.Text;
using OrderEvents.Bench.Harness;
using OrderEvents.Bench.Load;

namespace OrderEvents.Bench;

/// <summary>The markdown report: every figure of the service next to the baseline's, and service / baseline.</summary>
public static class Report
{
    public static string Markdown(BenchOptions options, IReadOnlyList<TargetResult> results, string commandLine, DateTimeOffset startedAt)
    {
        var service = results.FirstOrDefault(r => r.Name == "service") ?? new TargetResult("service");
        var baseline = results.FirstOrDefault(r => r.Name == "baseline") ?? new TargetResult("baseline");
        if (options.Rounds > 0) return RoundsMarkdown(options, service, baseline, results, commandLine, startedAt);
        var md = new StringBuilder();
        md.AppendLine(options.Smoke ? "### SMOKE RUN (short phases on a shared machine: not the benchmark's result)" : "### Benchmark run");
        md.AppendLine();
        md.AppendLine($"- Date: {startedAt:yyyy-MM-dd HH:mm} UTC; machine: {Machine()}");
        md.AppendLine($"- Command: `{commandLine}`");
        md.AppendLine($"- Settings: {options.Describe()}");
        foreach (var failed in results.Where(r => r.Failure is not null)) md.AppendLine($"- **{failed.Name} failed:** {failed.Failure}");
        md.AppendLine();
        md.AppendLine("| | OrderEvents | bare | ratio |");
        md.AppendLine("|---|---|---|---|");

        void Row(string label, double s, double b, string format = "F1", bool ratio = true) =>
            md.AppendLine($"| {label} | {Number(s, format)} | {Number(b, format)} | {(ratio ? Ratio(s, b) : "")} |");

        void Latencies(string label, Percentiles s, Percentiles b)
        {
            Row($"{label} p50 (ms)", s.P50, b.P50);
            Row($"{label} p95 (ms)", s.P95, b.P95);
            Row($"{label} p99 (ms)", s.P99, b.P99);
            Row($"{label} max (ms)", s.Max, b.Max);
        }

        void Phase(string title, PhaseResult? s, PhaseResult? b, bool mixed, bool burst)
        {
            md.AppendLine($"| **{title}** | | | |");
            var per = mixed ? "request" : "order";
            Row(burst ? "throughput (req/s)" : "achieved rate (req/s)", s?.Traffic.AchievedRate ?? double.NaN, b?.Traffic.AchievedRate ?? double.NaN, "F0");
            foreach (var operation in mixed ? Enum.GetValues<Operation>() : [Operation.Create])
                Latencies(ApiClient.EndpointNames[operation], Summary(s, operation), Summary(b, operation));
            md.AppendLine($"| errors | {Errors(s)} | {Errors(b)} | |");
            Latencies("event lag (order → notification stored)", s?.Lag ?? Percentiles.None, b?.Lag ?? Percentiles.None);
            Row("drain after the traffic (s)", s?.DrainSeconds ?? double.NaN, b?.DrainSeconds ?? double.NaN, "F2", ratio: false);
            if (burst) Row("**end to end: orders / (burst + drain) (orders/s)**", s?.EndToEndRate ?? double.NaN, b?.EndToEndRate ?? double.NaN, "F0");
            var sCount = mixed ? s?.Traffic.Succeeded ?? 0 : s?.Orders ?? 0;
            var bCount = mixed ? b?.Traffic.Succeeded ?? 0 : b?.Orders ?? 0;
            Row($"server CPU per {per} (ms)", s?.Per(s.ServiceCpuMs, sCount) ?? double.NaN, b?.Per(b.ServiceCpuMs, bCount) ?? double.NaN, "F2");
            Row($"PostgreSQL CPU per {per} (ms)", s?.Per(s.PostgresCpuMs, sCount) ?? double.NaN, b?.Per(b.PostgresCpuMs, bCount) ?? double.NaN, "F2");
            Row($"PostgreSQL commits per {per}", s?.Per(s.Commits, sCount) ?? double.NaN, b?.Per(b.Commits, bCount) ?? double.NaN, "F2");
            Row("server RSS after the drain (MiB)", s?.RssMib ?? double.NaN, b?.RssMib ?? double.NaN, "F0");
            Row("machine probe over the traffic (ns per step of an 8 MiB walk)", s?.MachineProbeNs ?? double.NaN, b?.MachineProbeNs ?? double.NaN, "F0");
        }

        md.AppendLine("| **start-up** | | | |");
        Row("process start → first HTTP answer (s)", service.StartupSeconds, baseline.StartupSeconds, "F2");
        if (options.Cold > TimeSpan.Zero)
        {
            Phase($"cold start: open loop {options.Rate:0}/s for {options.Cold.TotalSeconds:0} s right after start-up, creates only", service.Cold, baseline.Cold, mixed: false, burst: false);
            Row("cold POST p99 / warm POST p99 (creates phase below)", ColdRatio(service), ColdRatio(baseline), "F2", ratio: false);
        }

        Phase($"open loop {options.Rate:0}/s for {options.Duration.TotalSeconds:0} s, creates only", service.CreateOnly, baseline.CreateOnly, mixed: false, burst: false);
        Phase($"open loop {options.Rate:0}/s for {options.Duration.TotalSeconds:0} s, mixed creates/pays/cancels", service.Mixed, baseline.Mixed, mixed: true, burst: false);
        md.AppendLine("| **step search (creates)** | | | |");
        md.AppendLine($"| highest rate with POST p99 < {options.P99Limit.TotalMilliseconds:0} ms (req/s) | {service.DescribeMaxSustainedRate()} | " +
                      $"{baseline.DescribeMaxSustainedRate()} | {Ratio(service.MaxSustainedRate, baseline.MaxSustainedRate)} |");
        Phase($"closed loop, {options.Connections} connections, {options.Burst.TotalSeconds:0} s burst (+ drain)", service.Burst, baseline.Burst, mixed: false, burst: true);
        Row("**slowest request of the run, any phase (ms)**", service.SlowestRequestMs, baseline.SlowestRequestMs);
        md.AppendLine($"| **idle ({options.IdleWindow.TotalSeconds:0} s after the last phase, nothing sent)** | | | |");
        Row("server CPU (% of one core)", service.IdleServiceCpuPercent, baseline.IdleServiceCpuPercent);
        Row("PostgreSQL CPU (% of one core)", service.IdlePostgresCpuPercent, baseline.IdlePostgresCpuPercent);
        md.AppendLine("| **memory** | | | |");
        Row("server peak RSS (MiB, VmHWM)", service.PeakRssMib, baseline.PeakRssMib, "F0");
        Row("server RSS at the end (MiB)", service.EndRssMib, baseline.EndRssMib, "F0");
        md.AppendLine();

        md.AppendLine("Step search (open loop, creates only; pass = p99 below the limit, no errors, achieved ≥ 95 % of the rate):");
        md.AppendLine();
        md.AppendLine("| target | rate | achieved | p50 | p99 | max | errors | pass |");
        md.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var result in results)
        foreach (var step in result.Steps)
            md.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {result.Name} | {step.Rate:F0} | {step.Achieved:F0} | {step.Post.P50:F1} | {step.Post.P99:F1} | {step.Post.Max:F1} | {step.Errors} | {(step.Passed ? "yes" : "no")} |"));
        md.AppendLine();
        md.AppendLine("Ratio = OrderEvents / bare. Latencies from the scheduled send time (open loop) or the send time (closed loop), " +
                      "HdrHistogram. Event lag = notification created_at − the event's order timestamp, from the database after the drain. " +
                      "CPU = utime+stime from /proc over traffic + drain (PostgreSQL: postmaster, its live and exited backends). " +
                      "Commits = pg_stat_database.xact_commit of the target's database over traffic + drain.");
        md.Append(Profiling.CostReport.Markdown(options, results));
        return md.ToString();
    }

    /// <summary>--rounds: each round's bursts side by side, then the median and range of each ratio over the rounds.</summary>
    private static string RoundsMarkdown(BenchOptions options, TargetResult service, TargetResult baseline, IReadOnlyList<TargetResult> results,
        string commandLine, DateTimeOffset startedAt)
    {
        var md = new StringBuilder();
        md.AppendLine($"### Benchmark run: {options.Rounds} rounds, the two targets in turn (`--rounds`)");
        md.AppendLine();
        md.AppendLine($"- Date: {startedAt:yyyy-MM-dd HH:mm} UTC; machine: {Machine()}");
        md.AppendLine($"- Command: `{commandLine}`");
        md.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"- Settings: both targets running; per round one closed-loop burst each ({options.Connections} connections, {options.Burst.TotalSeconds} s, then the drain), " +
            $"the order swapped every round, each burst after both targets are quiet; {options.Users} users, service environment {options.ServiceEnvironment}"));
        foreach (var failed in results.Where(r => r.Failure is not null)) md.AppendLine($"- **{failed.Name} failed:** {failed.Failure}");
        md.AppendLine();

        var rounds = Math.Min(service.Rounds.Count, baseline.Rounds.Count);
        static double Cpu(PhaseResult p) => p.Per(p.ServiceCpuMs, p.Orders);
        static double Postgres(PhaseResult p) => p.Per(p.PostgresCpuMs, p.Orders);
        static double PostP99(PhaseResult p) => p.Traffic.ByOperation[Operation.Create].Summary().P99;
        var figures = new (string Label, Func<PhaseResult, double> Value, string Format, bool Ratio)[]
        {
            ("closed-loop throughput (req/s)", p => p.Traffic.AchievedRate, "F0", true),
            ("end to end: orders / (burst + drain) (orders/s)", p => p.EndToEndRate, "F0", true),
            ("server CPU per order (ms)", Cpu, "F3", true),
            ("server + PostgreSQL CPU per order (ms)", p => Cpu(p) + Postgres(p), "F3", true),
            ("PostgreSQL CPU per order (ms)", Postgres, "F3", true),
            ("POST p99 (ms)", PostP99, "F1", true),
            ("event lag p99 (ms)", p => p.Lag.P99, "F1", true),
            ("drain after the burst (s)", p => p.DrainSeconds, "F2", false),
            ("machine probe over the burst (ns per step of an 8 MiB walk)", p => p.MachineProbeNs, "F0", false),
        };

        md.AppendLine("Each round (OrderEvents / bare / ratio):");
        md.AppendLine();
        md.AppendLine($"| figure | {string.Join(" | ", Enumerable.Range(1, rounds).Select(r => $"round {r}"))} |");
        md.AppendLine($"|---|{string.Concat(Enumerable.Repeat("---|", rounds))}");
        foreach (var (label, value, format, ratio) in figures)
        {
            var cells = Enumerable.Range(0, rounds).Select(r =>
            {
                double s = value(service.Rounds[r]), b = value(baseline.Rounds[r]);
                return $"{Number(s, format)} / {Number(b, format)}{(ratio ? " / " + Ratio(s, b) : "")}";
            });
            md.AppendLine($"| {label} | {string.Join(" | ", cells)} |");
        }

        md.AppendLine($"| errors | {string.Join(" | ", Enumerable.Range(0, rounds).Select(r => $"{Errors(service.Rounds[r])} / {Errors(baseline.Rounds[r])}"))} |");
        md.AppendLine();
        md.AppendLine("Over the rounds (each round's ratio, then their median and range):");
        md.AppendLine();
        md.AppendLine("| figure | median ratio | range |");
        md.AppendLine("|---|---|---|");
        foreach (var (label, value, _, ratio) in figures.Where(f => f.Ratio))
        {
            var ratios = Enumerable.Range(0, rounds).Select(r => value(service.Rounds[r]) / value(baseline.Rounds[r])).Where(double.IsFinite).Order().ToArray();
            md.AppendLine(ratios.Length == 0 ? $"| {label} | – | – |" : string.Create(CultureInfo.InvariantCulture,
                $"| {label} | {Median.Of(ratios):0.00}× | {ratios[0]:0.00}–{ratios[^1]:0.00}× |"));
        }

        md.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"| server peak RSS (MiB, VmHWM) | {service.PeakRssMib:F0} / {baseline.PeakRssMib:F0} = {Ratio(service.PeakRssMib, baseline.PeakRssMib)} | |"));
        md.AppendLine();
        md.AppendLine("Ratio = OrderEvents / bare. Both targets run through every round: the other target idles beside each burst (1–3 % of " +
                      "a core), and PostgreSQL's CPU includes both databases' background work. CPU = utime+stime " +
                      "from /proc over traffic + drain; event lag from the database after the drain; HdrHistogram latencies.");
        return md.ToString();
    }

    private static double ColdRatio(TargetResult result) =>
        result.Cold is { } cold && result.CreateOnly is { } warm
            ? cold.Traffic.ByOperation[Operation.Create].Summary().P99 / warm.Traffic.ByOperation[Operation.Create].Summary().P99
            : double.NaN;

    private static Percentiles Summary(PhaseResult? phase, Operation operation) => phase?.Traffic.ByOperation[operation].Summary() ?? Percentiles.None;

    private static string Errors(PhaseResult? phase) => phase is null ? "–" : phase.Traffic.ErrorCount == 0 && phase.Drained
        ? "0"
        : $"{phase.Traffic.DescribeErrors()}{(phase.Drained ? "" : "; NOT DRAINED")}";

    private static string Number(double value, string format) =>
        double.IsNaN(value) || double.IsInfinity(value) ? "–" : value.ToString(format == "F0" && value >= 1000 ? "N0" : format, CultureInfo.InvariantCulture);

    private static string Ratio(double service, double baseline) =>
        double.IsNaN(service) || double.IsNaN(baseline) || baseline == 0 ? "–" : (service / baseline).ToString("0.00", CultureInfo.InvariantCulture) + "×";

    private static string Machine()
    {
        var model = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim()
            : null;
        var memory = File.Exists("/proc/meminfo")
            ? long.Parse(File.ReadLines("/proc/meminfo").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) / 1024.0 / 1024.0
            : double.NaN;
        return string.Create(CultureInfo.InvariantCulture,
            $"{Environment.ProcessorCount} cores ({model ?? "unknown CPU"}), {memory:F0} GiB, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}");
    }
}
