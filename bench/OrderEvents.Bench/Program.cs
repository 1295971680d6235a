using System.Runtime.InteropServices;
using OrderEvents.Bench;
using OrderEvents.Bench.Baseline;

// `baseline-server`: the bare baseline, started as a child process by the benchmark itself.
if (args.FirstOrDefault() == "baseline-server") return await BareServer.RunAsync(args[1..]);
// `reads`: list pages of one user with a long history (issue 23), a measurement of its own.
if (args.FirstOrDefault() == "reads") return await OrderEvents.Bench.Reads.ReadsBench.RunAsync(args[1..]);
// `classify-profile DIR`: a saved --profile classified again with the current stage rules (Profiling/CostRules.cs).
if (args.FirstOrDefault() == "classify-profile") return await OrderEvents.Bench.Profiling.ClassifyCommand.RunAsync(args[1..]);
// `machine-probe [seconds]`: how fast this machine's memory is right now (Harness/MachineProbe.cs).
if (args.FirstOrDefault() == "machine-probe") return await OrderEvents.Bench.Harness.MachineProbe.RunCommandAsync(args[1..]);
// `allocation-stacks FILE.nettrace`: which code allocates, from a trace the target wrote (Profiling/AllocationStacks.cs).
if (args.FirstOrDefault() == "allocation-stacks") return await OrderEvents.Bench.Profiling.AllocationStacks.RunAsync(args[1..]);

BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (HelpRequested)
{
    Console.WriteLine(BenchOptions.Usage);
    return 0;
}
catch (Exception e) when (e is ArgumentException or FormatException)
{
    Console.Error.WriteLine(e.Message);
    Console.Error.WriteLine(BenchOptions.Usage);
    return 2;
}

var repoRoot = options.RepoRoot ?? FindRepoRoot(Directory.GetCurrentDirectory()) ?? FindRepoRoot(AppContext.BaseDirectory)
    ?? throw new InvalidOperationException("Run from inside the repository (OrderEvents.sln not found), or pass --repo DIR");
var startedAt = DateTimeOffset.UtcNow;
var commandLine = "dotnet run -c Release --project bench/OrderEvents.Bench -- " + string.Join(' ', args);

using var run = new BenchRun(options, repoRoot);
// Ctrl+C or SIGTERM: children and the cluster go with us.
using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, _ => run.Dispose());
using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, _ => run.Dispose());

var results = await run.RunAsync();
run.Dispose();

var markdown = Report.Markdown(options, results, commandLine, startedAt);
Console.WriteLine(markdown);
if (options.Out is { } file)
{
    var path = Path.IsPathRooted(file) ? file : Path.Combine(repoRoot, file);
    Directory.CreateDirectory(Path.GetDirectoryName(path)!);
    await File.WriteAllTextAsync(path, markdown);
    Console.Error.WriteLine($"Report written to {path}");
}

return results.Any(r => r.Failure is not null) ? 1 : 0;

static string? FindRepoRoot(string start)
{
    for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
        if (File.Exists(Path.Combine(directory.FullName, "OrderEvents.sln"))) return directory.FullName;
    return null;
}
