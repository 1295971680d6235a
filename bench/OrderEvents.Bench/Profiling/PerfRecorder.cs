using System.Diagnostics;
using System.IO.Compression;
using OrderEvents.Bench.Harness;

namespace OrderEvents.Bench.Profiling;

/// <summary>
/// CPU samples of one process with Linux perf: <c>perf record -e cpu-clock -F 999 -g</c> (frame-pointer call chains,
/// user and kernel; hardware counters are not available on these machines, the cpu-clock timer is), timestamps on
/// CLOCK_MONOTONIC so they line up with the runtime's EventPipe timestamps (<see cref="RuntimeEvents"/>). The target runs
/// with DOTNET_PerfMapEnabled=1, so /tmp/perf-PID.map names its JIT-compiled methods (ReadyToRun code is not in it;
/// its hot methods are recompiled at tier 1 and are).
/// </summary>
public sealed class PerfRecorder : IDisposable
{
    private const int SigInt = 2;
    private readonly Process _perf;
    private readonly Task<string> _stderr;

    private PerfRecorder(Process perf, string dataFile)
    {
        _perf = perf;
        DataFile = dataFile;
        _stderr = perf.StandardError.ReadToEndAsync();
    }

    public string DataFile { get; }

    public static async Task<PerfRecorder> StartAsync(int pid, string dataFile)
    {
        var start = new ProcessStartInfo("perf")
        {
            ArgumentList = { "record", "-e", "cpu-clock", "-F", "999", "--call-graph", "fp", "-k", "CLOCK_MONOTONIC", "-p", pid.ToString(), "-o", dataFile },
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        var recorder = new PerfRecorder(Process.Start(start) ?? throw new InvalidOperationException("perf did not start"), dataFile);
        // perf attaches to every thread and reads the process's mappings before it samples: give it that moment.
        await Task.Delay(300);
        if (recorder._perf.HasExited)
            throw new InvalidOperationException($"perf record exited at once ({recorder._perf.ExitCode}): {await recorder._stderr}");
        return recorder;
    }

    /// <summary>SIGINT (perf writes its file and exits), then waits for it.</summary>
    public async Task StopAsync()
    {
        if (_perf.HasExited) return;
        Posix.Kill(_perf.Id, SigInt);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await _perf.WaitForExitAsync(timeout.Token);
        if (!File.Exists(DataFile)) throw new InvalidOperationException($"perf record wrote no {DataFile}: {await _stderr}");
    }

    /// <summary>
    /// <c>perf script</c> of the recording: each sample's thread name, thread id, time and call chain (address, symbol,
    /// DSO), leaf first. Kept gzip-compressed in <paramref name="scriptFile"/> and parsed into samples as it streams.
    /// </summary>
    public static async Task<List<PerfSample>> ScriptAsync(string dataFile, string scriptFile)
    {
        var start = new ProcessStartInfo("perf")
        {
            ArgumentList = { "script", "-f", "-i", dataFile, "-F", "comm,tid,time,ip,sym,dso" },
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        using var perf = Process.Start(start) ?? throw new InvalidOperationException("perf script did not start");
        var stderr = perf.StandardError.ReadToEndAsync();
        await using var file = File.Create(scriptFile);
        await using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        await using var copy = new StreamWriter(gzip);
        var samples = await PerfScript.ParseAsync(perf.StandardOutput, copy);
        await perf.WaitForExitAsync();
        if (perf.ExitCode != 0 && samples.Count == 0) throw new InvalidOperationException($"perf script failed ({perf.ExitCode}): {await stderr}");
        return samples;
    }

    public void Dispose()
    {
        try
        {
            if (!_perf.HasExited)
            {
                Posix.Kill(_perf.Id, SigInt);
                if (!_perf.WaitForExit(10_000)) _perf.Kill();
            }
        }
        catch (InvalidOperationException)
        {
        }

        _perf.Dispose();
    }
}

/// <summary>One CPU sample: the thread, its time (CLOCK_MONOTONIC, ns) and its call chain, leaf first.</summary>
public sealed record PerfSample(string Thread, int Tid, long TimeNs, Frame[] Frames);

/// <summary>A frame: the symbol as perf resolved it ("[unknown]" when it could not) and its DSO (file or perf map).</summary>
public sealed record Frame(string Symbol, string Dso)
{
    /// <summary>
    /// What rules match: a managed method as "Namespace.Type::Method" (perf-map names carry the return type, the assembly
    /// and the parameter types, which would let a rule match a method by its parameters); for a method perf could not
    /// name inside a managed assembly (ReadyToRun code is not in the perf map; hot methods are recompiled at tier 1 and
    /// are) the assembly's file name, e.g. "[Marten.dll]"; otherwise the symbol.
    /// </summary>
    public string Method { get; } = MethodOf(Symbol, Dso);

    private static string MethodOf(string symbol, string dso)
    {
        if (symbol == "[unknown]")
        {
            var file = Path.GetFileName(dso);
            return file.EndsWith(".dll", StringComparison.Ordinal) ? $"[{file}]" : symbol;
        }

        var separator = symbol.IndexOf("::", StringComparison.Ordinal);
        if (separator < 0) return symbol;
        var paren = symbol.IndexOf('(', separator);
        var end = paren < 0 ? symbol.Length : paren;
        // The type starts after the last space before "::" that is outside generic brackets ("[Asm] Ns.Type`1[A,B]::M").
        var depth = 0;
        var start = 0;
        for (var i = separator - 1; i >= 0; i--)
        {
            var c = symbol[i];
            if (c == ']') depth++;
            else if (c == '[') depth--;
            else if (c == ' ' && depth == 0)
            {
                start = i + 1;
                break;
            }
        }

        return symbol[start..end];
    }

    public bool IsKernel => Dso.StartsWith("[kernel", StringComparison.Ordinal) || Dso.Contains(".ko", StringComparison.Ordinal);
    public string DsoName => Path.GetFileName(Dso.TrimEnd(']').TrimStart('['));
}

/// <summary>Reads <c>perf script -F comm,tid,time,ip,sym,dso</c> output (also from a saved, gzip-compressed copy).</summary>
public static class PerfScript
{
    public static async Task<List<PerfSample>> ParseAsync(TextReader reader, TextWriter? copy = null)
    {
        var samples = new List<PerfSample>();
        var symbols = new Dictionary<(string, string), Frame>();
        string? header = null;
        var frames = new List<Frame>();

        void Flush()
        {
            if (header is not null && ParseHeader(header) is { } h) samples.Add(new PerfSample(h.Thread, h.Tid, h.TimeNs, frames.ToArray()));
            header = null;
            frames.Clear();
        }

        while (await reader.ReadLineAsync() is { } line)
        {
            if (copy is not null) await copy.WriteLineAsync(line);
            if (line.Length == 0)
            {
                Flush();
                continue;
            }

            if (!char.IsWhiteSpace(line[0]))
            {
                Flush();
                header = line;
                continue;
            }

            // "\t    7f1234 Symbol name (with spaces) (/path/to/dso)"
            var text = line.Trim();
            var space = text.IndexOf(' ');
            if (space < 0) continue;
            var rest = text[(space + 1)..];
            var open = rest.LastIndexOf(" (", StringComparison.Ordinal);
            var (symbol, dso) = open >= 0 && rest.EndsWith(')') ? (rest[..open], rest[(open + 2)..^1]) : (rest, "[unknown]");
            if (!symbols.TryGetValue((symbol, dso), out var frame)) symbols[(symbol, dso)] = frame = new Frame(symbol, dso);
            frames.Add(frame);
        }

        Flush();
        return samples;
    }

    public static async Task<List<PerfSample>> ReadFileAsync(string path)
    {
        await using var file = File.OpenRead(path);
        Stream stream = path.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(file, CompressionMode.Decompress) : file;
        using var reader = new StreamReader(stream);
        return await ParseAsync(reader);
    }

    /// <summary>"comm with spaces  12345 6789.123456:" (the thread name may contain spaces and digits).</summary>
    private static (string Thread, int Tid, long TimeNs)? ParseHeader(string header)
    {
        var colon = header.LastIndexOf(':');
        if (colon < 0) return null;
        var parts = header[..colon].TrimEnd().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length < 2) return null;
        if (!decimal.TryParse(parts[^1], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var seconds)) return null;
        if (!int.TryParse(parts[^2], out var tid)) return null;
        var thread = string.Join(' ', parts[..^2]);
        return (thread, tid, (long)(seconds * 1_000_000_000m));
    }
}
