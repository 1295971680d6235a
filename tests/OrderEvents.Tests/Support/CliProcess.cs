using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace OrderEvents.Tests.Support;

/// <summary>
/// The built app (src/OrderEvents/bin/.../OrderEvents.dll) as a child process, the way `dotnet run` or a container
/// runs it: its own Kestrel on a real socket, its own CLI. Every line it writes (stdout and stderr) is kept.
/// </summary>
public sealed class CliProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private CliProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) => Keep(e.Data);
        _process.ErrorDataReceived += (_, e) => Keep(e.Data);
        _process.Exited += (_, _) => _exited.TrySetResult();
        _process.EnableRaisingEvents = true;
    }

    public int Id => _process.Id;

    public IReadOnlyList<string> Lines => _lines.ToArray();

    public string Output => string.Join('\n', _lines);

    /// <summary>
    /// Starts the app with these arguments. The environment is the test run's, minus anything that would point the
    /// app at the tests' own services, plus <paramref name="environment"/> (a null value removes a variable).
    /// </summary>
    public static CliProcess Start(IEnumerable<string> arguments, IDictionary<string, string?>? environment = null, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Path.GetDirectoryName(AppAssembly)!,
        };
        start.ArgumentList.Add(AppAssembly);
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Development";
        start.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var name in new[] { "KAFKA_BROKERS", "KAFKA_ENABLED", "ASPNETCORE_URLS", "ConnectionStrings__Postgres" })
            start.Environment.Remove(name);
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null) start.Environment.Remove(name);
            else start.Environment[name] = value;
        }

        var app = new CliProcess(new Process { StartInfo = start });
        app._process.Start();
        app._process.BeginOutputReadLine();
        app._process.BeginErrorReadLine();
        app._socketWatch = Task.Run(app.WatchListeningSocketsAsync);
        return app;
    }

    private Task _socketWatch = Task.CompletedTask;
    private readonly ConcurrentDictionary<int, bool> _listeningPorts = new();

    /// <summary>
    /// Every TCP port the process listened on while it ran (polled every few ms from /proc: an embedded broker or a
    /// Kestrel server listens from the moment it exists until the process ends, far longer than one poll).
    /// </summary>
    public IReadOnlyCollection<int> ListeningPortsSeen => _listeningPorts.Keys.ToArray();

    private async Task WatchListeningSocketsAsync()
    {
        if (!OperatingSystem.IsLinux()) return;
        while (!_process.HasExited)
        {
            try
            {
                var sockets = Directory.EnumerateFileSystemEntries($"/proc/{_process.Id}/fd")
                    .Select(fd => new FileInfo(fd).LinkTarget)
                    .Where(target => target != null && target.StartsWith("socket:[", StringComparison.Ordinal))
                    .Select(target => target!["socket:[".Length..^1])
                    .ToHashSet();
                foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
                foreach (var line in File.ReadLines(table).Skip(1))
                {
                    var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    if (fields.Length > 9 && fields[3] == "0A" && sockets.Contains(fields[9]))
                        _listeningPorts[Convert.ToInt32(fields[1].Split(':')[1], 16)] = true;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The process ended between two reads.
            }

            await Task.Delay(5);
        }
    }

    /// <summary>Runs a command to its end and returns its exit code (the output stays in <see cref="Output"/>).</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        await _exited.Task.WaitAsync(timeout);
        await _process.WaitForExitAsync(); // also drains the output streams
        await _socketWatch;
        return _process.ExitCode;
    }

    /// <summary>Polls <paramref name="condition"/> until it holds, the app exits, or the deadline passes.</summary>
    public async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited) throw new InvalidOperationException($"The app exited ({_process.ExitCode}) before {what}:\n{Output}");
            if (await condition()) return;
            await Task.Delay(100);
        }

        throw new TimeoutException($"Gave up after {timeout.TotalSeconds:0} s waiting for {what}:\n{Output}");
    }

    /// <summary>Waits until the app answers HTTP at <paramref name="url"/> with a success status.</summary>
    public async Task WaitForHttpAsync(string url, TimeSpan timeout)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        await WaitUntilAsync(async () =>
        {
            try
            {
                return (await client.GetAsync(url)).IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
            catch (TaskCanceledException)
            {
                return false;
            }
        }, timeout, $"{url} to answer");
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>SIGTERM (as `docker stop` or Ctrl+C), then a kill if it has not stopped within the grace period.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            using (var terminate = Process.Start("kill", ["-TERM", _process.Id.ToString()])) await terminate.WaitForExitAsync();
            try
            {
                await _exited.Task.WaitAsync(TimeSpan.FromSeconds(20));
            }
            catch (TimeoutException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }

        await _process.WaitForExitAsync();
        _process.Dispose();
    }

    private void Keep(string? line)
    {
        if (line != null) _lines.Enqueue(line);
    }

    /// <summary>
    /// The app as built in src/OrderEvents/bin: run from the test folder, its CLI would scan the test
    /// framework's assemblies for commands.
    /// </summary>
    public static string AppAssembly
    {
        get
        {
            var appOutput = AppContext.BaseDirectory.Replace(
                Path.Combine("tests", "OrderEvents.Tests", "bin"), Path.Combine("src", "OrderEvents", "bin"), StringComparison.Ordinal);
            var assembly = Path.Combine(appOutput, "OrderEvents.dll");
            File.Exists(assembly).ShouldBeTrue($"Build the solution first: {assembly} is missing");
            return assembly;
        }
    }
}
