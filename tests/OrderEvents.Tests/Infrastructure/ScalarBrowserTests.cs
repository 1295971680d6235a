using Microsoft.Playwright;
using OrderEvents.Tests.Support;
using Xunit.Abstractions;

namespace OrderEvents.Tests.Infrastructure;

/// <summary>
/// The Scalar page of a real, Kestrel-hosted app (a child process on a loopback port, with the embedded broker),
/// loaded in headless Chromium: the API reference renders from the app's own OpenAPI document and lists the order
/// endpoints. Chromium is Debian's package (.ci/run installs it); Playwright does not download a browser.
/// </summary>
public sealed class ScalarBrowserTests(ITestOutputHelper output)
{
    private const string Chromium = "/usr/lib/chromium/chromium";

    [ChromiumFact]
    public async Task the_scalar_page_shows_the_order_endpoints_in_a_browser()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await using var app = await AppProcess.ServeAsync(new Dictionary<string, string?>
        {
            ["ConnectionStrings__Postgres"] = await TestPostgres.CreateDatabaseAsync(),
        });
        var baseUrl = app.BaseAddress;

        output.WriteLine($"app answering after {clock.ElapsedMilliseconds} ms");
        // A plain run: quiet (no JasperFx discovery lines), and the embedded broker did start with the host.
        app.Lines.ShouldNotContain(line => line.Contains("for commands"));
        app.Lines.ShouldContain(line => line.Contains("Embedded Kafka broker (librdkafka mock cluster) listening at 127.0.0.1:"));

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = Chromium, Headless = true });
        var page = await browser.NewPageAsync();
        var failedRequests = new List<string>();
        page.RequestFailed += (_, request) => failedRequests.Add(request.Url);

        var response = await page.GotoAsync($"{baseUrl}/scalar/");
        response.ShouldNotBeNull();
        response.Ok.ShouldBeTrue();

        // Scalar fetches /openapi/v1.json in the browser and renders one entry per operation.
        foreach (var operation in new[] { "post /api/orders", "get /api/orders", "get /api/orders/{id}", "patch /api/orders/{id}/pay", "patch /api/orders/{id}/cancel" })
        {
            await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = operation, Exact = true }).First)
                .ToBeVisibleAsync(new() { Timeout = 30_000 });
        }

        await Assertions.Expect(page).ToHaveTitleAsync("OrderEvents API");
        failedRequests.ShouldBeEmpty(); // nothing from a CDN: the page works without internet
        output.WriteLine($"page checked after {clock.ElapsedMilliseconds} ms");
    }

    /// <summary>Skipped, saying why, only where Debian's chromium is absent (CI installs it).</summary>
    private sealed class ChromiumFactAttribute : FactAttribute
    {
        public ChromiumFactAttribute()
        {
            if (!File.Exists(Chromium))
                Skip = $"Chromium is not installed at {Chromium}: `apt-get install -y chromium` (.ci/run does it)";
        }
    }
}
