#:property PublishAot=false
// Measures the product's end-to-end latency: POST /api/orders -> its ORDER_CREATED notification visible in
// GET /api/notifications, for N sequential orders against a running service.
//   dotnet run --project src/OrderEvents            (in another terminal)
//   dotnet run benchmarks/notification-latency.cs -- http://localhost:5080 100
// Prints p50/p95/p99/max of the POST alone and of POST-to-notification. The notification is polled every
// millisecond or so, so the figure includes up to ~1 ms of polling granularity.
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

var baseUrl = args.Length > 0 ? args[0] : "http://localhost:5080";
var count = args.Length > 1 ? int.Parse(args[1]) : 100;
using var http = new HttpClient { BaseAddress = new Uri(baseUrl) };

var email = $"latency-{Guid.NewGuid():N}@bench.local";
(await http.PostAsJsonAsync("/api/auth/register", new { email, password = "benchmark-password" })).EnsureSuccessStatusCode();
var login = await (await http.PostAsJsonAsync("/api/auth/login", new { email, password = "benchmark-password" })).Content.ReadFromJsonAsync<JsonElement>();
http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", login.GetProperty("accessToken").GetString());

var post = new List<double>();
var endToEnd = new List<double>();
for (var i = 0; i < count + 5; i++) // the first 5 warm up code generation and connections, and are not counted
{
    var clock = Stopwatch.StartNew();
    var response = await http.PostAsJsonAsync("/api/orders", new { items = new[] { new { productId = 1 + i % 5, quantity = 1 } } });
    response.EnsureSuccessStatusCode();
    var postMs = clock.Elapsed.TotalMilliseconds;
    var orderId = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
    while (true)
    {
        var page = await http.GetFromJsonAsync<JsonElement>("/api/notifications?pageSize=1");
        var items = page.GetProperty("items");
        if (items.GetArrayLength() > 0 && items[0].GetProperty("orderId").GetInt64() == orderId) break;
        if (clock.Elapsed > TimeSpan.FromSeconds(30)) throw new TimeoutException($"No notification for order {orderId} after 30 s");
    }

    if (i >= 5)
    {
        post.Add(postMs);
        endToEnd.Add(clock.Elapsed.TotalMilliseconds);
    }
}

static string Summary(List<double> samples)
{
    var sorted = samples.Order().ToArray();
    double At(double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
    return $"p50 {At(0.50):F1} ms | p95 {At(0.95):F1} ms | p99 {At(0.99):F1} ms | max {sorted[^1]:F1} ms";
}

Console.WriteLine($"{count} orders against {baseUrl}");
Console.WriteLine($"POST /api/orders (201):          {Summary(post)}");
Console.WriteLine($"POST -> notification visible:    {Summary(endToEnd)}");
