using System.Globalization;

namespace OrderEvents.Bench;

/// <summary>Command-line options; every phase is bounded by a duration and a request count.</summary>
public sealed class BenchOptions
{
    public double Rate { get; private set; } = 300;
    public TimeSpan Duration { get; private set; } = TimeSpan.FromSeconds(30);
    public TimeSpan Warmup { get; private set; } = TimeSpan.FromSeconds(20);
    public TimeSpan Cold { get; private set; } = TimeSpan.FromSeconds(30);
    public TimeSpan IdleWindow { get; private set; } = TimeSpan.FromSeconds(10);
    public int Users { get; private set; } = 20;

    /// <summary>Shares of the mixed phase: creates, pays and cancels (pays and cancels target orders created earlier in the phase).</summary>
    public (double Create, double Pay, double Cancel) Mix { get; private set; } = (0.6, 0.25, 0.15);

    public double StepStart { get; private set; } = double.NaN;
    public double StepFactor { get; private set; } = 1.3;
    public int MaxSteps { get; private set; } = 8;
    public TimeSpan StepDuration { get; private set; } = TimeSpan.FromSeconds(10);
    public TimeSpan P99Limit { get; private set; } = TimeSpan.FromMilliseconds(50);

    public int Connections { get; private set; } = 32;
    public TimeSpan Burst { get; private set; } = TimeSpan.FromSeconds(20);
    public int MaxBurstRequests { get; private set; } = 200_000;
    /// <summary>--rounds N: both targets up at once, closed-loop bursts in turn, N rounds (0 = the phases one target at a time).</summary>
    public int Rounds { get; private set; }

    public TimeSpan DrainTimeout { get; private set; } = TimeSpan.FromSeconds(180);
    public TimeSpan RequestTimeout { get; private set; } = TimeSpan.FromSeconds(10);

    public string? Out { get; private set; }
    public string[] Targets { get; private set; } = ["service", "baseline"];
    public string Configuration { get; private set; } = "Release";
    public bool NoBuild { get; private set; }
    public string? ServiceDll { get; private set; }
    public string ServiceEnvironment { get; private set; } = "Production";
    public List<KeyValuePair<string, string>> ServiceEnv { get; } = [];
    public List<string> PostgresSettings { get; } = [];
    public List<string> ServiceArgs { get; } = [];
    public string PostgresBin { get; private set; } = "/usr/lib/postgresql/15/bin";
    public string? RepoRoot { get; private set; }
    public bool KeepLogs { get; set; }
    public bool Statements { get; private set; }
    public bool Profile { get; private set; }
    public bool Smoke { get; private set; }

    public double FirstStep => double.IsNaN(StepStart) ? Rate / 2 : StepStart;

    public const string Usage = """
        OrderEvents benchmark (issue 10): the service and a bare baseline, one after the other, same machine, same PostgreSQL
        cluster (fsync on), same standalone broker.

          dotnet run -c Release --project bench/OrderEvents.Bench -- [options]

          --rate 300               fixed open-loop rate (req/s) of the create-only and mixed phases
          --duration 30s           length of each fixed-rate phase
          --cold 30s               cold start: right after start-up (and the users' sign-in), creates at --rate for
                                   this long, measured like the warm creates phase (0 skips it)
          --idle 10s               idle CPU window after the last phase
          --warmup 20s             warm-up (mixed, at min(rate,200)/s), not reported: long enough for the JIT to finish
                                   tiering up the hot paths (a 5 s warm-up left it compiling in the first phase)
          --users 20               users registered and logged in per target
          --mix 60,25,15           create,pay,cancel shares of the mixed phase
          --step-start R           first rate of the step search (default rate/2), x --step-factor 1.3 per step,
          --max-steps 8            at most this many steps of --step-duration 10s; pass = p99 < --p99-limit 50ms,
                                   no errors, achieved >= 95% of the target rate
          --connections 32         closed-loop burst: connections, each sending creates back to back
          --burst 20s              burst length (at most --max-burst-requests 200000)
          --drain-timeout 180s     longest wait for every notification after a phase
          --request-timeout 10s    a request slower than this is an error
          --out FILE               also write the markdown report to FILE (relative to the repository root)
          --targets service,baseline   which systems to measure
          --rounds N               instead of the phases above: both targets run at once and take turns, N rounds of one
                                   closed-loop burst (+ drain) each, the order swapped every round; each round's
                                   service / bare ratio and their median and spread. The machine's speed changes
                                   from minute to minute (its L3 cache is shared with other tenants; the report
                                   gives a probe's reading per burst), so only bursts close in time compare fairly
          --service-environment Production    ASPNETCORE_ENVIRONMENT of the service (and of the development host's kafka-broker command);
                                   outside Development the bench runs `db-apply` before starting it
          --service-env KEY=VALUE  extra environment for the service (repeatable), e.g. for production settings
          --service-arg ARG        extra command-line argument for the service (repeatable)
          --service-dll PATH       run this OrderEvents.dll instead of publishing src/OrderEvents
          --no-build               reuse the last publish output (artifacts/bench/service, artifacts/bench/devhost)
          --configuration Release  configuration used to publish the service
          --pg-bin DIR             PostgreSQL binaries (default /usr/lib/postgresql/15/bin)
          --pg-setting NAME=VALUE  a server setting for the shared cluster (repeatable), e.g. wal_compression=on
          --keep-logs              keep the run folder with the children's logs
          --statements             load pg_stat_statements and write each target's top statements (by total time,
                                   whole measurement) to the run folder and the progress output (adds a little
                                   PostgreSQL overhead to both targets: for profiling, not for the figures)
          --profile                the cost of one order, per stage, for the closed-loop burst (traffic + drain) of each target:
                                   perf samples classified into stages, GC and allocations (EventPipe), PostgreSQL statements,
                                   rows and WAL, memory (smaps, a gcdump); a section of the report, raw files in
                                   artifacts/profile/<time>/<target>/ (needs perf; the profilers cost some throughput)
          --smoke                  a short run for a busy machine: rate 100, 5 s phases, 3 steps of 3 s, 5 s burst, 8 connections
        """;

    public static BenchOptions Parse(string[] args)
    {
        var options = new BenchOptions();
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--rate": options.Rate = double.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--duration": options.Duration = ParseDuration(Value()); break;
                case "--warmup": options.Warmup = ParseDuration(Value()); break;
                case "--cold": options.Cold = ParseDuration(Value()); break;
                case "--idle": options.IdleWindow = ParseDuration(Value()); break;
                case "--users": options.Users = int.Parse(Value()); break;
                case "--mix":
                    var shares = Value().Split(',').Select(s => double.Parse(s, CultureInfo.InvariantCulture)).ToArray();
                    if (shares.Length != 3) throw new ArgumentException("--mix takes create,pay,cancel");
                    var sum = shares.Sum();
                    options.Mix = (shares[0] / sum, shares[1] / sum, shares[2] / sum);
                    break;
                case "--step-start": options.StepStart = double.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--step-factor": options.StepFactor = double.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--max-steps": options.MaxSteps = int.Parse(Value()); break;
                case "--step-duration": options.StepDuration = ParseDuration(Value()); break;
                case "--p99-limit": options.P99Limit = ParseDuration(Value()); break;
                case "--connections": options.Connections = int.Parse(Value()); break;
                case "--burst": options.Burst = ParseDuration(Value()); break;
                case "--max-burst-requests": options.MaxBurstRequests = int.Parse(Value()); break;
                case "--rounds": options.Rounds = int.Parse(Value()); break;
                case "--drain-timeout": options.DrainTimeout = ParseDuration(Value()); break;
                case "--request-timeout": options.RequestTimeout = ParseDuration(Value()); break;
                case "--out": options.Out = Value(); break;
                case "--targets": options.Targets = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries); break;
                case "--configuration": options.Configuration = Value(); break;
                case "--no-build": options.NoBuild = true; break;
                case "--service-dll": options.ServiceDll = Value(); break;
                case "--service-environment": options.ServiceEnvironment = Value(); break;
                case "--service-env":
                    var pair = Value();
                    var equals = pair.IndexOf('=');
                    if (equals <= 0) throw new ArgumentException("--service-env takes KEY=VALUE");
                    options.ServiceEnv.Add(new(pair[..equals], pair[(equals + 1)..]));
                    break;
                case "--service-arg": options.ServiceArgs.Add(Value()); break;
                case "--pg-bin": options.PostgresBin = Value(); break;
                case "--pg-setting":
                    var setting = Value();
                    if (setting.IndexOf('=') <= 0 || setting.Contains(' ')) throw new ArgumentException("--pg-setting takes NAME=VALUE (no spaces)");
                    options.PostgresSettings.Add(setting);
                    break;
                case "--repo": options.RepoRoot = Value(); break;
                case "--keep-logs": options.KeepLogs = true; break;
                case "--statements": options.Statements = true; break;
                case "--profile": options.Profile = true; break;
                case "--smoke":
                    options.Smoke = true;
                    options.Rate = 100;
                    options.Duration = TimeSpan.FromSeconds(5);
                    options.Warmup = TimeSpan.FromSeconds(3);
                    options.Cold = TimeSpan.FromSeconds(5);
                    options.IdleWindow = TimeSpan.FromSeconds(3);
                    options.Users = 8;
                    options.MaxSteps = 3;
                    options.StepDuration = TimeSpan.FromSeconds(3);
                    options.Burst = TimeSpan.FromSeconds(5);
                    options.Connections = 8;
                    options.DrainTimeout = TimeSpan.FromSeconds(60);
                    break;
                case "-h" or "--help": throw new HelpRequested();
                default: throw new ArgumentException($"Unknown option {args[i]}");
            }
        }

        if (options.Targets.Except(["service", "baseline"]).Any()) throw new ArgumentException("--targets takes service and/or baseline");
        if (options.Rounds < 0) throw new ArgumentException("--rounds takes a positive number");
        if (options.Rounds > 0 && options.Profile) throw new ArgumentException("--rounds and --profile do not go together (the profile is of one burst per target)");
        return options;
    }

    public static TimeSpan ParseDuration(string text)
    {
        text = text.Trim();
        double Number(int suffix) => double.Parse(text[..^suffix], CultureInfo.InvariantCulture);
        if (text.EndsWith("ms", StringComparison.Ordinal)) return TimeSpan.FromMilliseconds(Number(2));
        if (text.EndsWith('s')) return TimeSpan.FromSeconds(Number(1));
        if (text.EndsWith('m')) return TimeSpan.FromMinutes(Number(1));
        return TimeSpan.FromSeconds(double.Parse(text, CultureInfo.InvariantCulture));
    }

    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"cold start {Cold.TotalSeconds} s at {Rate}/s, rate {Rate}/s for {Duration.TotalSeconds} s (create-only, then mixed {Mix.Create:P0} create / {Mix.Pay:P0} pay / {Mix.Cancel:P0} cancel), " +
        $"step search from {FirstStep:F0}/s x{StepFactor} ({MaxSteps} steps of {StepDuration.TotalSeconds} s, p99 < {P99Limit.TotalMilliseconds} ms), " +
        $"closed-loop burst {Connections} connections for {Burst.TotalSeconds} s, {Users} users, service environment {ServiceEnvironment}");
}

public sealed class HelpRequested : Exception;
