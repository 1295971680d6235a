using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using OrderEvents.Features.Auth;
using OrderEvents.DevHost.Embedded;
using Xunit.Abstractions;

namespace OrderEvents.Tests.Support;

/// <summary>
/// The app as a child process, the way `dotnet run`, a container or an operator runs it: serving on a loopback port, a
/// CLI command, or the standalone broker (`kafka-broker`). The development host (OrderEvents.DevHost.dll, what
/// `dotnet run --project src/OrderEvents.DevHost` runs) unless the test names the service's assembly
/// (<see cref="BuiltApp.AssemblyPath"/>, with <see cref="ServiceSettings"/>). Every test that launches the app goes
/// through here:
/// <list type="bullet">
/// <item>one environment policy (<see cref="Environment"/>): nothing of the test run's own settings leaks in;</item>
/// <item>every line of stdout and stderr is kept (<see cref="Output"/>, <see cref="Errors"/>);</item>
/// <item>the exit code; a command that overruns its deadline is killed, never left behind;</item>
/// <item>a graceful stop (SIGTERM); an app still running <see cref="StopTimeout"/> later is killed and fails the test, and
/// so does one that ended with a non-zero exit code nobody asked for (<see cref="WaitForExitAsync"/> or
/// <see cref="StopAsync"/> hand the code to the test); SIGKILL on demand, as a crash;</item>
/// <item>whatever is still alive when the test run ends is killed by <see cref="TestRunCleanup"/>.</item>
/// </list>
/// </summary>
public sealed class AppProcess : IAsyncDisposable
{
    private static readonly ConcurrentDictionary<AppProcess, bool> Running = new();

    private readonly Process _process;
    private readonly ConcurrentQueue<(bool Error, string Line)> _lines = new();
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentDictionary<int, bool> _listeningPorts = new();
    private readonly ITestOutputHelper? _output;
    private Task _socketWatch = Task.CompletedTask;
    private bool _killed;
    private bool _exitCodeTaken;
    private event Action<string>? LineReceived;

    private AppProcess(string name, Process process, string dataDirectory, ITestOutputHelper? output)
    {
        Name = name;
        _process = process;
        _output = output;
        EmbeddedDataDirectory = dataDirectory;
        _process.OutputDataReceived += (_, e) => Keep(error: false, e.Data);
        _process.ErrorDataReceived += (_, e) => Keep(error: true, e.Data);
        _process.Exited += (_, _) => _exited.TrySetResult();
        _process.EnableRaisingEvents = true;
    }

    public string Name { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Completes when the process ends (its exit code is not taken: a non-zero one still fails the test at dispose).</summary>
    public Task Exited => _exited.Task;

    /// <summary>How long a stop may take after SIGTERM; past it the app is killed and the stop fails.</summary>
    public TimeSpan StopTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Every line the process wrote, stdout and stderr interleaved in arrival order.</summary>
    public IReadOnlyList<string> Lines => _lines.Select(l => l.Line).ToArray();

    public string Output => string.Join('\n', Lines);

    /// <summary>Only what the process wrote to stderr.</summary>
    public IReadOnlyList<string> Errors => _lines.Where(l => l.Error).Select(l => l.Line).ToArray();

    /// <summary>Where the embedded PostgreSQL of this process keeps its data, unless the test gave a database or a folder.</summary>
    public string EmbeddedDataDirectory { get; }

    /// <summary>The address it serves on, for processes started by <see cref="ServeAsync"/>.</summary>
    public HttpClient Client { get; private set; } = null!;

    public string BaseAddress { get; private set; } = "";

    /// <summary>
    /// The environment policy. A child starts from the test run's environment minus everything the app reads as
    /// configuration (ASPNETCORE_*, DOTNET_ENVIRONMENT, KAFKA_*, OTEL_*, connection strings, any Section__Key), so
    /// neither a developer's shell nor the tests' own services leak in. Then: Development (as `dotnet run`), an embedded
    /// PostgreSQL data folder of its own under /tmp (removed at dispose; never the checkout's), and last the test's
    /// settings, where a null value removes a variable (e.g. ASPNETCORE_ENVIRONMENT for "no environment at all").
    /// </summary>
    public static Dictionary<string, string?> Environment(string dataDirectory, IReadOnlyDictionary<string, string?>? settings)
    {
        var environment = new Dictionary<string, string?>();
        foreach (var name in System.Environment.GetEnvironmentVariables().Keys.Cast<string>().Where(IsAppSetting))
            environment[name] = null;
        environment["ASPNETCORE_ENVIRONMENT"] = "Development";
        environment["DOTNET_NOLOGO"] = "1";
        environment["EmbeddedPostgres__DataDirectory"] = dataDirectory;
        foreach (var (name, value) in settings ?? new Dictionary<string, string?>()) environment[name] = value;
        return environment;
    }

    private static bool IsAppSetting(string name) =>
        name.Contains("__", StringComparison.Ordinal)
        || name.StartsWith("ASPNETCORE_", StringComparison.OrdinalIgnoreCase)
        || name.StartsWith("KAFKA_", StringComparison.OrdinalIgnoreCase)
        || name.StartsWith("OTEL_", StringComparison.OrdinalIgnoreCase)
        || name is "DOTNET_ENVIRONMENT" or "DOTNET_CONTENTROOT" or "DOTNET_URLS" or "TEST_POSTGRES";

    /// <summary>
    /// What the service needs besides its PostgreSQL and broker, and the development host would supply: a signing key,
    /// the demo catalog, the notification store's migrations. Added to <paramref name="settings"/>.
    /// </summary>
    public static Dictionary<string, string?> ServiceSettings(IReadOnlyDictionary<string, string?> settings) => new(settings)
    {
        ["Jwt__SigningKey"] = "crash-test-signing-key-of-at-least-32-bytes",
        ["Catalog__SeedDemoProducts"] = "true",
        ["Notifications__MigrateOnStartup"] = "true",
    };

    /// <summary>Starts the app with these arguments (none: a plain run) and returns at once.</summary>
    public static AppProcess Start(
        IEnumerable<string> arguments, IReadOnlyDictionary<string, string?>? settings = null, string name = "app",
        ITestOutputHelper? output = null, string? assembly = null, string? workingDirectory = null)
    {
        assembly ??= BuiltApp.DevHostPath;
        var dataDirectory = Path.Combine(Path.GetTempPath(), "orderevents-app-" + Guid.NewGuid().ToString("N")[..10], "postgres");
        // A test run started in the background (`dotnet test &`) ignores SIGINT, and so would every app it starts: the
        // .NET runtime keeps a signal ignored on entry. GNU env puts its default back, so Ctrl+C reaches the app as it would.
        var start = new ProcessStartInfo(OperatingSystem.IsLinux() ? "env" : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Path.GetDirectoryName(assembly)!,
        };
        if (OperatingSystem.IsLinux()) foreach (var argument in (string[])["--default-signal=INT", "dotnet"]) start.ArgumentList.Add(argument);
        start.ArgumentList.Add(assembly);
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        foreach (var (key, value) in Environment(dataDirectory, settings))
        {
            if (value is null) start.Environment.Remove(key);
            else start.Environment[key] = value;
        }

        var app = new AppProcess(name, new Process { StartInfo = start }, dataDirectory, output);
        app._process.Start();
        Running[app] = true;
        app._process.BeginOutputReadLine();
        app._process.BeginErrorReadLine();
        app._socketWatch = Task.Run(app.WatchListeningSocketsAsync);
        return app;
    }

    /// <summary>
    /// A plain run on a free loopback port, returned once it answers HTTP. A start that fails or overruns
    /// <paramref name="timeout"/> (default 90 s) stops the process before the exception leaves.
    /// </summary>
    public static async Task<AppProcess> ServeAsync(
        IReadOnlyDictionary<string, string?>? settings = null, string name = "app", ITestOutputHelper? output = null, TimeSpan? timeout = null,
        string? workingDirectory = null, string? assembly = null)
    {
        var port = FreePort();
        var withAddress = new Dictionary<string, string?>(settings ?? new Dictionary<string, string?>())
        {
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
        };
        var app = Start([], withAddress, name, output, assembly, workingDirectory);
        app.BaseAddress = $"http://127.0.0.1:{port}";
        app.Client = new HttpClient { BaseAddress = new Uri(app.BaseAddress), Timeout = TimeSpan.FromSeconds(30) };
        try
        {
            await app.WaitForHttpAsync("/api/products", timeout ?? TimeSpan.FromSeconds(90));
            return app;
        }
        catch
        {
            await app.DisposeAfterFailureAsync();
            throw;
        }
    }

    /// <summary>Waits for the process to end and returns its exit code; past the deadline it is killed and this throws.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        try
        {
            await _exited.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            await KillAsync();
            throw new TimeoutException($"{Name} did not exit within {timeout.TotalSeconds:0} s (killed):\n{Output}");
        }

        await _process.WaitForExitAsync(); // also drains the output streams
        await _socketWatch;
        Running.TryRemove(this, out _);
        _exitCodeTaken = true;
        return _process.ExitCode;
    }

    /// <summary>Waits for a line matching <paramref name="match"/> (already written or still to come) and returns it.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout, string what)
    {
        var found = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        void Check(string line)
        {
            if (match(line)) found.TrySetResult(line);
        }

        LineReceived += Check;
        try
        {
            foreach (var line in Lines) Check(line);
            var first = await Task.WhenAny(found.Task, _exited.Task, Task.Delay(timeout));
            if (first == found.Task) return await found.Task;
            if (found.Task.IsCompleted) return await found.Task;
            throw first == _exited.Task
                ? new InvalidOperationException($"{Name} exited ({_process.ExitCode}) before {what}:\n{Output}")
                : new TimeoutException($"Gave up after {timeout.TotalSeconds:0} s waiting for {what}:\n{Output}");
        }
        finally
        {
            LineReceived -= Check;
        }
    }

    /// <summary>The node number Wolverine gave the app (the owner_id of its inbox and outbox rows), from its start-up log.</summary>
    public async Task<int> WolverineNodeNumberAsync(TimeSpan timeout)
    {
        const string announcement = "Wolverine assigned node id for envelope persistence is ";
        var line = await WaitForLineAsync(l => l.Contains(announcement), timeout, "its node number");
        return int.Parse(line[(line.IndexOf(announcement, StringComparison.Ordinal) + announcement.Length)..].Trim().TrimEnd('.'));
    }

    /// <summary>Polls <paramref name="condition"/> until it holds, the process exits, or the deadline passes.</summary>
    public async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited) throw new InvalidOperationException($"{Name} exited ({_process.ExitCode}) before {what}:\n{Output}");
            if (await condition()) return;
            await Task.Delay(100); // polling interval of a condition outside this process
        }

        throw new TimeoutException($"Gave up after {timeout.TotalSeconds:0} s waiting for {what}:\n{Output}");
    }

    /// <summary>Waits until <paramref name="path"/> answers with a success status.</summary>
    public async Task WaitForHttpAsync(string path, TimeSpan timeout)
    {
        using var client = new HttpClient { BaseAddress = new Uri(BaseAddress), Timeout = TimeSpan.FromSeconds(2) };
        await WaitUntilAsync(async () =>
        {
            try
            {
                using var response = await client.GetAsync(path);
                return response.IsSuccessStatusCode;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                return false; // not listening yet
            }
        }, timeout, $"{BaseAddress}{path} to answer");
    }

    /// <summary>SIGKILL: the process ends at once, as in a crash or an OOM kill (nothing it started is stopped).</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            try
            {
                _process.Kill(entireProcessTree: false);
            }
            catch (InvalidOperationException)
            {
                // It exited meanwhile.
            }

            await _process.WaitForExitAsync();
            _killed = true;
            _output?.WriteLine($"{Name}: killed (SIGKILL)");
        }

        Running.TryRemove(this, out _);
    }

    /// <summary>SIGSTOP: the app runs no more code (sends nothing, commits nothing new) until <see cref="Thaw"/> or a kill.</summary>
    public void Freeze() => Signal("STOP");

    /// <summary>SIGCONT: a frozen app runs on.</summary>
    public void Thaw() => Signal("CONT");

    /// <summary>Sends a signal (SIGTERM, as `docker stop` or systemd; SIGINT, as Ctrl+C) and returns at once.</summary>
    public void Signal(string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", _process.Id.ToString()]);
        kill.WaitForExit();
    }

    /// <summary>
    /// SIGTERM and returns the exit code for the test to check. An app still running <see cref="StopTimeout"/> later is
    /// killed and this throws: a service that cannot stop in time would be killed by its orchestrator too.
    /// </summary>
    public async Task<int> StopAsync()
    {
        var exitCode = await TerminateAsync();
        _exitCodeTaken = true;
        return exitCode;
    }

    private async Task<int> TerminateAsync()
    {
        var overran = false;
        if (!_process.HasExited)
        {
            Signal("TERM");
            try
            {
                await _exited.Task.WaitAsync(StopTimeout);
            }
            catch (TimeoutException)
            {
                overran = true;
                _process.Kill(entireProcessTree: true);
            }
        }

        await _process.WaitForExitAsync();
        await _socketWatch;
        Running.TryRemove(this, out _);
        if (overran)
            throw new TimeoutException($"{Name} did not exit within {StopTimeout.TotalSeconds:0.###} s of SIGTERM (killed):\n{Output}");
        return _process.ExitCode;
    }

    /// <summary>Every TCP port the process listened on while it ran (polled from /proc every few ms).</summary>
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

    public async Task<string> RegisterAndLoginAsync(string email, string password = "correct-horse-battery")
    {
        (await Client.PostAsJsonAsync("/api/auth/register", new RegisterRequest(email, password))).EnsureSuccessStatusCode();
        var login = await Client.PostAsJsonAsync("/api/auth/login", new LoginRequest(email, password));
        login.EnsureSuccessStatusCode();
        return (await login.Content.ReadFromJsonAsync<TokenResponse>())!.AccessToken;
    }

    public async Task<HttpResponseMessage> PlaceOrderAsync(string token, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/orders")
        {
            Content = new StringContent("""{"items":[{"productId":1,"quantity":1},{"productId":3,"quantity":2}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await Client.SendAsync(request, cancellationToken);
    }

    /// <summary>
    /// Stops the process (SIGTERM, then a kill) and removes its embedded data folder. An app that ended without
    /// stopping the PostgreSQL server it started fails the test here (the server is stopped first), unless it was
    /// SIGKILLed: then the server is left for the next start to adopt, as designed, and stopped here.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        var exitCode = 0;
        TimeoutException? overran = null;
        try
        {
            exitCode = await TerminateAsync();
        }
        catch (TimeoutException exception)
        {
            overran = exception; // reported once the folders are cleaned up
        }

        Release();
        var leftRunning = EmbeddedServerRunning;
        if (leftRunning) EmbeddedPostgres.Planned(EmbeddedDataDirectory).Stop();
        RemoveFolder(Path.GetDirectoryName(EmbeddedDataDirectory)!);
        if (leftRunning && !_killed)
            throw new InvalidOperationException($"{Name} ended and left its embedded PostgreSQL running on {EmbeddedDataDirectory}:\n{Output}");
        if (overran is not null) throw overran;
        if (exitCode != 0 && !_killed && !_exitCodeTaken)
            throw new InvalidOperationException($"{Name} exited with code {exitCode} (the test never asked for it):\n{Output}");
    }

    /// <summary>Disposes after a failed start: that failure is the one to report, not how the half-started app ended.</summary>
    internal async Task DisposeAfterFailureAsync()
    {
        _exitCodeTaken = true;
        try
        {
            await DisposeAsync();
        }
        catch (TimeoutException)
        {
            // Killed; the start's own exception follows.
        }
    }

    private void Release()
    {
        _process.Dispose();
        Client?.Dispose();
    }

    /// <summary>Whether a PostgreSQL server runs on this process's embedded data folder (its postmaster.pid exists).</summary>
    public bool EmbeddedServerRunning => File.Exists(Path.Combine(EmbeddedDataDirectory, "postmaster.pid"));

    /// <summary>Whether the embedded PostgreSQL was ever started for this process (initdb ran).</summary>
    public bool EmbeddedServerCreated => Directory.Exists(EmbeddedDataDirectory);

    /// <summary>The children started and not yet stopped, by name.</summary>
    public static IReadOnlyList<string> Alive => Running.Keys.Where(app => !app._process.HasExited).Select(app => app.Name).ToList();

    /// <summary>At the end of the test run: kills every child still alive (a test that forgot one fails the run's leftover check otherwise).</summary>
    public static IReadOnlyList<string> KillLeftovers()
    {
        var killed = new List<string>();
        foreach (var app in Running.Keys)
        {
            if (!app._process.HasExited)
            {
                killed.Add($"{app.Name} (pid {app.Id})");
                app._process.Kill(entireProcessTree: true);
                app._process.WaitForExit();
            }

            if (app.EmbeddedServerRunning) EmbeddedPostgres.Planned(app.EmbeddedDataDirectory).Stop();
            RemoveFolder(Path.GetDirectoryName(app.EmbeddedDataDirectory)!);
        }

        Running.Clear();
        return killed;
    }

    /// <summary>rm -rf: folders made by initdb as the postgres account, and read-only ones, included.</summary>
    public static void RemoveFolder(string folder)
    {
        if (!Directory.Exists(folder)) return;
        using var remove = Process.Start("rm", ["-rf", folder]);
        remove.WaitForExit();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private void Keep(bool error, string? line)
    {
        if (line is null) return;
        _lines.Enqueue((error, line));
        LineReceived?.Invoke(line);
    }
}

/// <summary>`OrderEvents.DevHost kafka-broker` as a child process: a broker that outlives the app instances using it.</summary>
public sealed class StandaloneBroker : IAsyncDisposable
{
    public const string Announcement = "Embedded Kafka broker listening at ";

    private StandaloneBroker(AppProcess process, string bootstrapServers)
    {
        Process = process;
        BootstrapServers = bootstrapServers;
    }

    public AppProcess Process { get; }

    public string BootstrapServers { get; }

    public static async Task<StandaloneBroker> StartAsync(IEnumerable<string>? arguments = null, IReadOnlyDictionary<string, string?>? settings = null, string? assembly = null)
    {
        var process = AppProcess.Start(["kafka-broker", .. arguments ?? []], settings, "kafka-broker", assembly: assembly);
        try
        {
            var line = await process.WaitForLineAsync(l => l.StartsWith(Announcement, StringComparison.Ordinal), TimeSpan.FromSeconds(60), "the broker's address");
            return new StandaloneBroker(process, line[Announcement.Length..].Trim());
        }
        catch
        {
            await process.DisposeAfterFailureAsync();
            throw;
        }
    }

    /// <summary>SIGTERM: the command destroys the broker and exits with 0.</summary>
    public ValueTask DisposeAsync() => Process.DisposeAsync();
}

public static class BuiltApp
{
    /// <summary>
    /// The service as built in src/OrderEvents/bin: run from the test folder, its CLI would scan the test framework's
    /// assemblies for commands.
    /// </summary>
    public static string AssemblyPath => Built("OrderEvents");

    /// <summary>The development host as built in src/OrderEvents.DevHost/bin.</summary>
    public static string DevHostPath => Built("OrderEvents.DevHost");

    private static string Built(string project)
    {
        var output = AppContext.BaseDirectory.Replace(
            Path.Combine("tests", "OrderEvents.Tests", "bin"), Path.Combine("src", project, "bin"), StringComparison.Ordinal);
        var assembly = Path.Combine(output, project + ".dll");
        File.Exists(assembly).ShouldBeTrue($"Build the solution first: {assembly} is missing");
        return assembly;
    }

    /// <summary>The repository's root folder (the one holding OrderEvents.sln).</summary>
    public static string RepositoryRoot
    {
        get
        {
            var directory = new DirectoryInfo(AppContext.BaseDirectory);
            while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "OrderEvents.sln"))) directory = directory.Parent;
            return directory?.FullName ?? throw new InvalidOperationException("OrderEvents.sln not found above the test output");
        }
    }
}
