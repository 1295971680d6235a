using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using OrderEvents.Features.Auth;
using Xunit.Abstractions;

namespace OrderEvents.Tests.Support;

/// <summary>
/// The built app (src/OrderEvents/bin, not the in-process test host) as a child process on a loopback port, so a
/// test can kill it the way a crash does (SIGKILL: no shutdown hooks, nothing flushed) and start it again.
/// </summary>
public sealed class AppProcess : IAsyncDisposable
{
    private readonly Dictionary<string, string> _environment;
    private readonly ITestOutputHelper _output;
    private readonly StringBuilder _log = new();
    private Process? _process;

    public AppProcess(string name, IReadOnlyDictionary<string, string> environment, ITestOutputHelper output)
    {
        Name = name;
        _output = output;
        Port = FreePort();
        _environment = new Dictionary<string, string>(environment)
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Development",
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{Port}",
            ["Logging__LogLevel__Default"] = "Warning",
        };
        Client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{Port}"), Timeout = TimeSpan.FromSeconds(30) };
    }

    public string Name { get; }

    public int Port { get; }

    public HttpClient Client { get; }

    public string Log { get { lock (_log) return _log.ToString(); } }

    /// <summary>Starts the app and waits until it answers HTTP (bounded by <paramref name="timeout"/>).</summary>
    public async Task StartAsync(TimeSpan? timeout = null)
    {
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(BuiltApp.AssemblyPath);
        foreach (var (key, value) in _environment) start.Environment[key] = value;
        foreach (var inherited in new[] { "KAFKA_BROKERS", "KAFKA_ENABLED", "KAFKA_GROUP_ID" })
            if (!_environment.ContainsKey(inherited)) start.Environment.Remove(inherited);

        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, line) => { if (line.Data != null) lock (_log) _log.AppendLine(line.Data); };
        _process.ErrorDataReceived += (_, line) => { if (line.Data != null) lock (_log) _log.AppendLine(line.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(90));
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited) throw new InvalidOperationException($"{Name} exited with {_process.ExitCode} while starting:\n{Log}");
            try
            {
                using var ready = await Client.GetAsync("/api/products");
                if (ready.StatusCode == HttpStatusCode.OK) return;
            }
            catch (HttpRequestException)
            {
                // Not listening yet: each attempt waits for the connection to be refused, then tries again.
            }

            await Task.Delay(100); // polling interval for a process we cannot await otherwise
        }

        throw new TimeoutException($"{Name} did not answer HTTP within the deadline:\n{Log}");
    }

    /// <summary>SIGKILL: the process ends at once, as in a crash or an OOM kill.</summary>
    public async Task KillAsync()
    {
        if (_process is not { HasExited: false }) return;
        _process.Kill(entireProcessTree: false);
        await _process.WaitForExitAsync();
        _output.WriteLine($"{Name}: killed (SIGKILL)");
    }

    /// <summary>SIGTERM and wait: a graceful stop.</summary>
    public async Task StopAsync()
    {
        if (_process is not { HasExited: false }) return;
        using (var terminate = Process.Start("kill", ["-TERM", _process.Id.ToString()])) await terminate.WaitForExitAsync();
        try
        {
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (TimeoutException)
        {
            _process.Kill(entireProcessTree: true);
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

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process?.Dispose();
        Client.Dispose();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>`OrderEvents kafka-broker` as a child process: a broker that outlives the app instances using it.</summary>
public sealed class StandaloneBroker : IAsyncDisposable
{
    private Process? _process;

    public string BootstrapServers { get; private set; } = "";

    public static async Task<StandaloneBroker> StartAsync()
    {
        var broker = new StandaloneBroker();
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true };
        foreach (var argument in new[] { BuiltApp.AssemblyPath, "kafka-broker" }) start.ArgumentList.Add(argument);
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Development";
        start.Environment.Remove("KAFKA_BROKERS");
        start.Environment.Remove("KAFKA_ENABLED");
        broker._process = Process.Start(start)!;
        const string announcement = "Embedded Kafka broker listening at ";
        while (await broker._process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)) is { } line)
        {
            if (!line.StartsWith(announcement, StringComparison.Ordinal)) continue;
            broker.BootstrapServers = line[announcement.Length..].Trim();
            return broker;
        }

        throw new InvalidOperationException("The kafka-broker command never announced its address");
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process?.Dispose();
    }
}

public static class BuiltApp
{
    /// <summary>
    /// The app as built in src/OrderEvents/bin: run from the test folder, its CLI would scan the test framework's
    /// assemblies for commands.
    /// </summary>
    public static string AssemblyPath
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
