using System.Diagnostics;

namespace OrderEvents.Bench.Harness;

/// <summary>A child process whose output goes to a log file; killed (whole tree) on dispose.</summary>
public sealed class ChildProcess : IDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;

    private ChildProcess(Process process, StreamWriter log, string logPath)
    {
        _process = process;
        _log = log;
        LogPath = logPath;
    }

    public int Pid => _process.Id;
    public string LogPath { get; }
    public bool HasExited => _process.HasExited;

    /// <summary>Stopwatch timestamp taken just before the process was started (start-up is measured from it).</summary>
    public long StartedAt { get; private set; }
    public int ExitCode => _process.ExitCode;

    /// <summary>Fires for every output line (after it was written to the log).</summary>
    public event Action<string>? Line;

    public static ChildProcess Start(string file, IEnumerable<string> arguments, string workingDirectory, IReadOnlyDictionary<string, string?> environment, string logPath)
    {
        var start = new ProcessStartInfo(file)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        foreach (var (key, value) in environment)
            if (value is null) start.Environment.Remove(key);
            else start.Environment[key] = value;

        var log = new StreamWriter(logPath) { AutoFlush = true };
        log.WriteLine($"$ {file} {string.Join(' ', start.ArgumentList)}");
        var process = new Process { StartInfo = start };
        var child = new ChildProcess(process, log, logPath);
        process.OutputDataReceived += (_, e) => child.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => child.OnLine(e.Data);
        child.StartedAt = Stopwatch.GetTimestamp();
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    private void OnLine(string? line)
    {
        if (line is null) return;
        lock (_log) _log.WriteLine(line);
        Line?.Invoke(line);
    }

    public string Tail(int lines = 20)
    {
        lock (_log) _log.Flush();
        using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        var all = reader.ReadToEnd().Split('\n');
        return string.Join('\n', all.TakeLast(lines));
    }

    /// <summary>SIGTERM first (a clean shutdown), then SIGKILL of the whole tree after the grace period.</summary>
    public void Stop(TimeSpan grace)
    {
        if (_process.HasExited) return;
        try
        {
            Posix.Kill(_process.Id, Posix.SigTerm);
            if (_process.WaitForExit(grace)) return;
        }
        catch (Exception)
        {
            // Fall through to the hard kill.
        }

        try
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
        }
    }

    private int _disposed;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        Stop(TimeSpan.FromSeconds(5));
        _process.Dispose();
        lock (_log) _log.Dispose();
    }
}

internal static class Posix
{
    public const int SigTerm = 15;

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static extern int Kill(int pid, int signal);
}
