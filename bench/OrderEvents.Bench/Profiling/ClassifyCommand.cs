using System.Globalization;

namespace OrderEvents.Bench.Profiling;

/// <summary>
/// <c>classify-profile DIR [CPU_MS_PER_ORDER]</c>: classifies a saved profile again (DIR = artifacts/profile/&lt;run&gt;/&lt;target&gt;,
/// with its perf-script.txt.gz and gc-pauses.csv) with the current rules, without running anything: for changing the
/// rules and seeing what they take. Prints each stage's share (and ms per order when given) and the top unclassified stacks.
/// </summary>
public static class ClassifyCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length < 1)
        {
            Console.Error.WriteLine("classify-profile DIR [CPU_MS_PER_ORDER]   (DIR = artifacts/profile/<run>/<service|baseline>)");
            return 2;
        }

        var directory = args[0];
        var msPerOrder = args.Length > 1 ? double.Parse(args[1], CultureInfo.InvariantCulture) : double.NaN;
        var target = Path.GetFileName(Path.TrimEndingDirectorySeparator(directory));
        var pauses = File.ReadLines(Path.Combine(directory, "gc-pauses.csv")).Skip(1).Select(l => l.Split(','))
            .Select(f => new GcPause(int.Parse(f[0]), long.Parse(f[1]), long.Parse(f[2]), int.Parse(f[3]))).ToList();
        var samples = await PerfScript.ReadFileAsync(Path.Combine(directory, "perf-script.txt.gz"));
        var classifier = new StageClassifier(CostRules.For(target), pauses);
        var classified = samples.Select(s => (Sample: s, Class: classifier.Classify(s))).ToList();

        Console.WriteLine($"{target}: {samples.Count} samples, {pauses.Count} GC pauses");
        foreach (var group in classified.GroupBy(c => c.Class.Stage).OrderByDescending(g => g.Count()))
        {
            var share = group.Count() / (double)samples.Count;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{share,7:P1} {share * msPerOrder,7:F3}  {group.Key.Name}  (json {group.Count(c => c.Class.InJson) / (double)samples.Count:P1})"));
            foreach (var rule in group.GroupBy(c => c.Class.Rule).OrderByDescending(r => r.Count()).Take(3))
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"           {rule.Count() / (double)samples.Count,7:P1}  {rule.Key}"));
            foreach (var frame in group.GroupBy(c => CostProfiler.Shorten(c.Class.Decider)).OrderByDescending(r => r.Count()).Take(args.Contains("--frames") ? 12 : 0))
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"                   {frame.Count() / (double)samples.Count,7:P2}  {frame.Key}"));
        }

        Console.WriteLine();
        Console.WriteLine("Top unclassified stacks:");
        foreach (var (stack, count) in CostProfiler.TopStacks(classified.Where(c => c.Class.Stage == StageClassifier.Unclassified).Select(c => c.Sample), 30))
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{count / (double)samples.Count,7:P2}  {stack}"));
        var heapReport = Path.Combine(directory, "heap-report.txt");
        if (File.Exists(heapReport))
        {
            Console.WriteLine();
            Console.WriteLine("Heap after the run (dotnet-gcdump), top types:");
            foreach (var line in HeapDump.TopTypes(await File.ReadAllTextAsync(heapReport), 15)) Console.WriteLine(line);
        }

        return 0;
    }
}
