using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace OrderEvents.Bench.Load;

public enum Operation
{
    Create,
    Pay,
    Cancel,
}

/// <summary>HTTP to one target (127.0.0.1 only): users with their JWTs, and the three measured requests.</summary>
public sealed class ApiClient : IDisposable
{
    public static readonly IReadOnlyDictionary<Operation, string> EndpointNames = new Dictionary<Operation, string>
    {
        [Operation.Create] = "POST /api/orders",
        [Operation.Pay] = "PATCH /api/orders/{id}/pay",
        [Operation.Cancel] = "PATCH /api/orders/{id}/cancel",
    };

    // One to three items over the five active demo products (1..5), as the service's demo catalog and the baseline's seed.
    private static readonly byte[][] OrderBodies = Enumerable.Range(0, 15).Select(i =>
    {
        var items = Enumerable.Range(0, 1 + i % 3).Select(k => new { productId = 1 + (i + k) % 5, quantity = 1 + (i + k) % 4 });
        return JsonSerializer.SerializeToUtf8Bytes(new { items });
    }).ToArray();

    private readonly HttpClient _http;
    private readonly TimeSpan _requestTimeout;
    // Registration and login are not measured and may meet cold code (runtime code generation, first JIT) on a busy machine.
    private static readonly TimeSpan SetupTimeout = TimeSpan.FromSeconds(120);
    private readonly List<AuthenticationHeaderValue> _tokens = [];
    private int _nextUser;
    private int _nextBody;

    public ApiClient(Uri baseAddress, TimeSpan requestTimeout)
    {
        if (!IPAddress.IsLoopback(IPAddress.Parse(baseAddress.Host))) throw new ArgumentException("Only 127.0.0.1 targets are allowed");
        _http = new HttpClient(new SocketsHttpHandler
        {
            // Open loop: as many connections as requests in flight (no client-side queue hiding server latency).
            MaxConnectionsPerServer = int.MaxValue,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            UseProxy = false,
        })
        {
            BaseAddress = baseAddress,
            Timeout = Timeout.InfiniteTimeSpan,
        };
        _requestTimeout = requestTimeout;
    }

    public int UserCount => _tokens.Count;

    /// <summary>Waits until the target answers HTTP at all (401 without a token is an answer).</summary>
    public async Task WaitUntilUpAsync(Func<bool> hasExited, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            if (hasExited()) throw new InvalidOperationException("The target exited during start-up");
            try
            {
                using var attempt = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                using var response = await _http.GetAsync("/api/orders", attempt.Token);
                return;
            }
            catch (HttpRequestException)
            {
            }
            catch (OperationCanceledException)
            {
            }

            // Short steps: the time to the first answer is measured (start-up), so the poll must not blur it.
            await Task.Delay(20);
        }

        throw new TimeoutException($"The target did not answer HTTP within {timeout.TotalSeconds} s");
    }

    public async Task RegisterUsersAsync(int count, string prefix)
    {
        for (var i = 0; i < count; i++)
        {
            var credentials = new { email = $"{prefix}-{i}@bench.local", password = "benchmark-password" };
            using var timeout = new CancellationTokenSource(SetupTimeout);
            using (var register = await _http.PostAsJsonAsync("/api/auth/register", credentials, timeout.Token))
                if (!register.IsSuccessStatusCode)
                    throw new InvalidOperationException($"register: {(int)register.StatusCode} {await register.Content.ReadAsStringAsync()}");
            using var login = await _http.PostAsJsonAsync("/api/auth/login", credentials, timeout.Token);
            if (!login.IsSuccessStatusCode) throw new InvalidOperationException($"login: {(int)login.StatusCode} {await login.Content.ReadAsStringAsync()}");
            var token = (await login.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accessToken").GetString();
            _tokens.Add(new AuthenticationHeaderValue("Bearer", token));
        }
    }

    /// <summary>Sends one request; latency is measured by the caller from its own start time (the scheduled one).</summary>
    public async Task<Outcome> SendAsync(Operation operation, PendingOrder? target)
    {
        var user = target?.User ?? (int)((uint)Interlocked.Increment(ref _nextUser) % (uint)_tokens.Count);
        using var request = operation switch
        {
            Operation.Create => new HttpRequestMessage(HttpMethod.Post, "/api/orders")
            {
                Content = new ByteArrayContent(OrderBodies[(uint)Interlocked.Increment(ref _nextBody) % OrderBodies.Length])
                {
                    Headers = { ContentType = new MediaTypeHeaderValue("application/json") },
                },
            },
            Operation.Pay => new HttpRequestMessage(HttpMethod.Patch, $"/api/orders/{target!.OrderId}/pay"),
            _ => new HttpRequestMessage(HttpMethod.Patch, $"/api/orders/{target!.OrderId}/cancel"),
        };
        request.Headers.Authorization = _tokens[user];
        try
        {
            using var timeout = new CancellationTokenSource(_requestTimeout);
            using var response = await _http.SendAsync(request, timeout.Token);
            var body = await response.Content.ReadAsByteArrayAsync(timeout.Token);
            if (!response.IsSuccessStatusCode) return new Outcome(false, $"{(int)response.StatusCode}", null, user);
            long? orderId = operation == Operation.Create ? OrderIdOf(body) : target!.OrderId;
            return new Outcome(true, null, orderId, user);
        }
        catch (OperationCanceledException)
        {
            return new Outcome(false, "timeout", null, user);
        }
        catch (HttpRequestException e)
        {
            return new Outcome(false, e.HttpRequestError.ToString(), null, user);
        }
    }

    private static long OrderIdOf(byte[] body)
    {
        var reader = new Utf8JsonReader(body);
        while (reader.Read())
            if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1 && reader.ValueTextEquals("id"u8))
            {
                reader.Read();
                return reader.GetInt64();
            }

        throw new InvalidOperationException("No id in the created order: " + Encoding.UTF8.GetString(body));
    }

    public void Dispose() => _http.Dispose();
}

public sealed record PendingOrder(long OrderId, int User);

public sealed record Outcome(bool Ok, string? Error, long? OrderId, int User);

/// <summary>What one phase sent and got back.</summary>
public sealed class Traffic
{
    public Dictionary<Operation, Latency> ByOperation { get; } = Enum.GetValues<Operation>().ToDictionary(o => o, _ => new Latency());
    public ConcurrentDictionary<string, int> Errors { get; } = new();
    public ConcurrentQueue<long> CreatedOrders { get; } = new();
    public int Sent;
    public int Succeeded;

    /// <summary>Seconds from the first send to the last response.</summary>
    public double ElapsedSeconds { get; set; }

    /// <summary>Successful requests per second over <see cref="ElapsedSeconds"/>.</summary>
    public double AchievedRate => ElapsedSeconds > 0 ? Succeeded / ElapsedSeconds : 0;

    /// <summary>Every successful create, pay and cancel publishes exactly one event, hence one notification.</summary>
    public long ExpectedNotifications => Succeeded;

    public int ErrorCount => Errors.Values.Sum();

    public string DescribeErrors() => Errors.IsEmpty ? "none" : string.Join(", ", Errors.OrderBy(e => e.Key).Select(e => $"{e.Key}: {e.Value}"));

    public void Record(Operation operation, Outcome outcome, double milliseconds)
    {
        if (outcome.Ok)
        {
            Interlocked.Increment(ref Succeeded);
            ByOperation[operation].Record(milliseconds);
            if (operation == Operation.Create) CreatedOrders.Enqueue(outcome.OrderId!.Value);
        }
        else
        {
            Errors.AddOrUpdate($"{ApiClient.EndpointNames[operation]} {outcome.Error}", 1, (_, n) => n + 1);
        }
    }
}
