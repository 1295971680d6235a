using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace OrderEvents.Bench.Reads;

/// <summary>HTTP to the service (127.0.0.1 only) as one signed-in user: its orders and its two lists.</summary>
public sealed class ReadsClient : IDisposable
{
    private readonly HttpClient _http;
    private AuthenticationHeaderValue? _token;

    public ReadsClient(Uri baseAddress)
    {
        if (!IPAddress.IsLoopback(IPAddress.Parse(baseAddress.Host))) throw new ArgumentException("Only 127.0.0.1 targets are allowed");
        _http = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = Timeout.InfiniteTimeSpan, UseProxy = false })
        {
            BaseAddress = baseAddress,
            Timeout = TimeSpan.FromSeconds(60),
        };
    }

    public async Task WaitUntilUpAsync(Func<bool> hasExited, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (hasExited()) throw new InvalidOperationException("The service exited during start-up");
            try
            {
                using var attempt = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                using var response = await _http.GetAsync("/api/products", attempt.Token);
                if (response.IsSuccessStatusCode) return;
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
            {
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"The service did not answer within {timeout.TotalSeconds} s");
    }

    public async Task RegisterAndLoginAsync(string email)
    {
        var credentials = new { email, password = "benchmark-password" };
        using (var register = await _http.PostAsJsonAsync("/api/auth/register", credentials))
            await EnsureSuccessAsync(register, "register");
        using var login = await _http.PostAsJsonAsync("/api/auth/login", credentials);
        await EnsureSuccessAsync(login, "login");
        _token = new AuthenticationHeaderValue("Bearer", (await login.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accessToken").GetString());
    }

    /// <summary>One order of one to three of the demo products 1..5 (the n-th order's items depend on n only).</summary>
    public async Task CreateOrderAsync(int n)
    {
        var items = Enumerable.Range(0, 1 + n % 3).Select(k => new { productId = 1 + (n + k) % 5, quantity = 1 + (n + k) % 4 });
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/orders") { Content = JsonContent.Create(new { items }) };
        request.Headers.Authorization = _token;
        using var response = await _http.SendAsync(request);
        await EnsureSuccessAsync(response, "POST /api/orders");
    }

    /// <summary>A GET as the user, timed from the send to the last byte of the body.</summary>
    public async Task<(double Milliseconds, JsonElement Body)> GetAsync(string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = _token;
        var started = Stopwatch.GetTimestamp();
        using var response = await _http.SendAsync(request);
        var body = await response.Content.ReadAsByteArrayAsync();
        var milliseconds = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"GET {path}: {(int)response.StatusCode} {Encoding.UTF8.GetString(body)}");
        return (milliseconds, JsonDocument.Parse(body).RootElement.Clone());
    }

    private static async Task EnsureSuccessAsync(HttpResponseMessage response, string what)
    {
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"{what}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    public void Dispose() => _http.Dispose();
}
