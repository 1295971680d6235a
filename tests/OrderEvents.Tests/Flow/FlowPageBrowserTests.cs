using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using OrderEvents.Tests.Support;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace OrderEvents.Tests.Flow;

/// <summary>
/// The flow page in headless Chromium (Debian's, as the Scalar test uses), against the built app as a child process
/// in Development: Kestrel on a loopback port, the embedded broker, a fresh database. Every wait is a condition on the
/// page (Playwright's expectations and waitForFunction); every request the page makes is recorded and must go to the
/// app itself. Screenshots go to flow-page/ under the test output and their paths are printed.
/// </summary>
[Trait("Category", "Browser")]
public sealed class FlowPageBrowserTests(FlowPageApp app, ITestOutputHelper output) : IClassFixture<FlowPageApp>
{
    private static readonly Regex Milliseconds = new(@"^\d+$");

    [ChromiumFact]
    public async Task a_user_sees_the_order_answered_then_its_record_then_its_notification_with_its_lag_and_pays_it()
    {
        await using var session = await app.OpenAsync(output);
        var page = session.Page;
        await SignUpAsync(page, $"user-{Guid.NewGuid():N}@flow.test");

        var orderId = await PlaceOrderAsync(page);
        var card = page.Locator($"#order-{orderId}");
        var created = card.Locator("[data-event-type=ORDER_CREATED]");
        await Expect(created.Locator("li[data-stage=http]")).ToContainTextAsync("HTTP 201");
        await Expect(created.Locator("li[data-stage=record]")).ToHaveAttributeAsync("data-ms", Milliseconds);
        await Expect(created.Locator("li[data-stage=notification]")).ToHaveAttributeAsync("data-ms", Milliseconds);

        // The record as the broker holds it: partition, offset, key and the exact JSON value.
        var record = page.Locator($"#records li[data-order-id='{orderId}'][data-event-type=ORDER_CREATED]");
        await Expect(record).ToBeVisibleAsync();
        (await record.GetAttributeAsync("data-key")).ShouldBe(orderId.ToString());
        int.Parse((await record.GetAttributeAsync("data-partition"))!).ShouldBeInRange(0, 2);
        long.Parse((await record.GetAttributeAsync("data-offset"))!).ShouldBeGreaterThanOrEqualTo(0);
        var value = JsonDocument.Parse((await record.Locator("pre.json").TextContentAsync())!).RootElement;
        value.GetProperty("orderId").GetInt64().ShouldBe(orderId);
        value.GetProperty("eventType").GetString().ShouldBe("ORDER_CREATED");
        var eventId = value.GetProperty("eventId").GetString();
        await Expect(record.Locator("table.headers td").First).ToBeAttachedAsync();

        // Its notification, with the lag computed from the event's own timestamp.
        var notification = page.Locator($"#notifications li[data-event-id='{eventId}']");
        await Expect(notification).ToHaveAttributeAsync("data-type", "ORDER_CREATED");
        await Expect(notification).ToHaveAttributeAsync("data-lag-ms", Milliseconds);
        await Expect(notification.Locator(".lag")).ToContainTextAsync("lag");
        // The history from the event log, and the outbox empty again.
        await Expect(card.Locator(".history li[data-event-type=ORDER_CREATED]")).ToBeVisibleAsync();
        await Expect(page.Locator("#outbox-count")).ToHaveAttributeAsync("data-count", "0");

        var http = await StepMs(created, "http");
        var recorded = await StepMs(created, "record");
        var notified = await StepMs(created, "notification");
        var lag = int.Parse((await notification.GetAttributeAsync("data-lag-ms"))!);
        output.WriteLine($"order {orderId}: HTTP 201 at {http} ms, Kafka record at {recorded} ms, notification at {notified} ms after the click; lag {lag} ms");

        await card.GetByRole(AriaRole.Button, new() { Name = "Pay" }).ClickAsync();
        var paid = card.Locator("[data-event-type=ORDER_PAID]");
        await Expect(paid.Locator("li[data-stage=http]")).ToContainTextAsync("HTTP 200");
        await Expect(page.Locator($"#notifications li[data-order-id='{orderId}'][data-type=ORDER_PAID]")).ToHaveAttributeAsync("data-lag-ms", Milliseconds);
        await Expect(page.Locator($"#records li[data-order-id='{orderId}'][data-event-type=ORDER_PAID]")).ToBeVisibleAsync();
        await Expect(card.Locator(".order-status")).ToHaveTextAsync("PAID");
        await Expect(card.Locator(".history li")).ToHaveCountAsync(2);
        output.WriteLine($"order {orderId} paid: HTTP 200 at {await StepMs(paid, "http")} ms, record at {await StepMs(paid, "record")} ms, notification at {await StepMs(paid, "notification")} ms");

        // A plain user has no fault buttons.
        await Expect(page.Locator("#faults")).ToBeHiddenAsync();
        session.ShouldHaveStayedOnTheApp();
    }

    [ChromiumFact]
    public async Task an_admin_takes_the_broker_down_and_sees_orders_answered_held_in_the_outbox_and_every_notification_after()
    {
        await using var session = await app.OpenAsync(output);
        var page = session.Page;
        await SignUpAsync(page, "admin@example.com");
        await Expect(page.Locator("#who-role")).ToHaveTextAsync("admin");
        await Expect(page.Locator("#faults")).ToBeVisibleAsync();

        var first = await PlaceOrderAsync(page);
        await Expect(page.Locator($"#notifications li[data-order-id='{first}']")).ToHaveAttributeAsync("data-lag-ms", Milliseconds);
        await session.ScreenshotAsync("before-outage");

        await page.Locator("#outage-seconds").FillAsync("60");
        await page.Locator("#outage-start").ClickAsync();
        await Expect(page.Locator("#broker-state")).ToHaveAttributeAsync("data-state", "down");
        await Expect(page.Locator("#outage-banner")).ToBeVisibleAsync();

        var during = new List<long>();
        for (var i = 0; i < 3; i++) during.Add(await PlaceOrderAsync(page));
        foreach (var orderId in during)
        {
            var http = page.Locator($"#order-{orderId} [data-event-type=ORDER_CREATED] li[data-stage=http]");
            await Expect(http).ToContainTextAsync("HTTP 201");
            int.Parse((await http.GetAttributeAsync("data-ms"))!).ShouldBeLessThan(2000, "an order waited for the broker");
        }

        // Held in the outbox while the broker is down; no notification can arrive meanwhile.
        await page.WaitForFunctionAsync("n => Number(document.getElementById('outbox-count').dataset.count) >= n", during.Count);
        await Expect(page.Locator("#broker-state")).ToHaveAttributeAsync("data-state", "down");
        foreach (var orderId in during)
            await Expect(page.Locator($"#notifications li[data-order-id='{orderId}']")).ToHaveCountAsync(0);
        await session.ScreenshotAsync("during-outage");

        await page.Locator("#outage-end").ClickAsync();
        await Expect(page.Locator("#broker-state")).ToHaveAttributeAsync("data-state", "up");
        await Expect(page.Locator("#outbox-count")).ToHaveAttributeAsync("data-count", "0", new() { Timeout = 120_000 });
        foreach (var orderId in during)
        {
            await Expect(page.Locator($"#notifications li[data-order-id='{orderId}'][data-type=ORDER_CREATED]"))
                .ToHaveAttributeAsync("data-lag-ms", Milliseconds, new() { Timeout = 120_000 });
            await Expect(page.Locator($"#records li[data-order-id='{orderId}'][data-event-type=ORDER_CREATED]")).ToBeVisibleAsync();
        }

        await session.ScreenshotAsync("after-outage");
        var lags = await page.Locator("#notifications li[data-lag-ms]").EvaluateAllAsync<int[]>(
            "items => items.filter(i => i.dataset.lagMs !== '').map(i => Number(i.dataset.lagMs))");
        output.WriteLine($"lags after the outage (newest first): {string.Join(", ", lags)} ms");

        // A burst: every order answered, every notification shown, the lag chart filled.
        var notificationsBefore = int.Parse(await page.Locator("#notification-count").InnerTextAsync());
        await page.Locator("#burst-orders").FillAsync("100");
        await page.Locator("#burst-start").ClickAsync();
        await Expect(page.Locator("#fault-result")).ToContainTextAsync("100 of 100 orders created", new() { Timeout = 120_000 });
        await page.WaitForFunctionAsync("n => Number(document.getElementById('notification-count').textContent) >= n",
            notificationsBefore + 100, new() { Timeout = 120_000 });
        await Expect(page.Locator("#lag-chart")).ToHaveAttributeAsync("data-count", "100");
        await Expect(page.Locator("#outbox-count")).ToHaveAttributeAsync("data-count", "0", new() { Timeout = 60_000 });
        output.WriteLine($"burst: {await page.Locator("#fault-result").InnerTextAsync()} {await page.Locator("#lag-stats").InnerTextAsync()}");
        await session.ScreenshotAsync("after-burst");
        // What a newcomer sees first (the README's picture, docs/flow-page.png): the first screenful.
        await session.ScreenshotAsync("first-screen", fullPage: false);
        session.ShouldHaveStayedOnTheApp();
    }

    [ChromiumFact]
    public async Task a_user_who_is_not_an_admin_gets_no_fault_buttons_and_403_from_their_endpoints()
    {
        await using var session = await app.OpenAsync(output);
        var page = session.Page;
        await SignUpAsync(page, $"user-{Guid.NewGuid():N}@flow.test");
        await Expect(page.Locator("#who-role")).ToHaveTextAsync("user");
        await Expect(page.Locator("#faults")).ToBeHiddenAsync();
        await Expect(page.Locator("#outage-start")).ToBeHiddenAsync();
        await Expect(page.Locator("#burst-start")).ToBeHiddenAsync();

        // The page's own token, sent the way the buttons would.
        var statuses = await page.EvaluateAsync<int[]>("""
            async () => {
              const headers = { 'Content-Type': 'application/json', Authorization: `Bearer ${sessionStorage.getItem('orderevents.flow.token')}` };
              const calls = [
                ['POST', '/flow/faults/broker-outage', { seconds: 10 }],
                ['DELETE', '/flow/faults/broker-outage', undefined],
                ['POST', '/flow/faults/burst', { orders: 10 }],
              ];
              const answers = [];
              for (const [method, path, body] of calls)
                answers.push((await fetch(path, { method, headers, body: body && JSON.stringify(body) })).status);
              return answers;
            }
            """);
        statuses.ShouldBe([403, 403, 403]);
        await Expect(page.Locator("#broker-state")).ToHaveAttributeAsync("data-state", "up");
        session.ShouldHaveStayedOnTheApp();
    }

    private static async Task SignUpAsync(IPage page, string email)
    {
        await page.Locator("#email").FillAsync(email);
        await page.Locator("#password").FillAsync("correct-horse-battery");
        await page.Locator("#register").ClickAsync();
        await Expect(page.Locator("#who-email")).ToHaveTextAsync(email);
        // Both streams read before anything is ordered: nothing published from now on can be missed.
        await Expect(page.Locator("#tap-state")).ToHaveAttributeAsync("data-state", "live");
        await Expect(page.Locator("#stream-state")).ToHaveAttributeAsync("data-state", "live");
    }

    /// <summary>Clicks "Place order" (one of the first product) and returns the new order's id once its card shows.</summary>
    private static async Task<long> PlaceOrderAsync(IPage page)
    {
        var answers = page.Locator("#http-log li[data-path='/api/orders'][data-status='201']");
        var before = await answers.CountAsync();
        await page.Locator("#place-order").ClickAsync();
        await Expect(answers).ToHaveCountAsync(before + 1);
        var body = JsonDocument.Parse((await answers.First.Locator("pre.json").TextContentAsync())!).RootElement;
        var orderId = body.GetProperty("id").GetInt64();
        await Expect(page.Locator($"#order-{orderId}")).ToBeVisibleAsync();
        return orderId;
    }

    private static async Task<int> StepMs(ILocator @event, string stage) =>
        int.Parse((await @event.Locator($"li[data-stage={stage}]").GetAttributeAsync("data-ms"))!);
}

/// <summary>
/// The app the browser tests share: the built app in Development (the page on by default) on a loopback port, with
/// its embedded broker and a fresh database; stopped when the class is done. Chromium is launched once.
/// </summary>
public sealed class FlowPageApp : IAsyncLifetime
{
    public const string Chromium = "/usr/lib/chromium/chromium";

    private AppProcess? _app;
    private IPlaywright? _playwright;
    private IBrowser? _browser;

    public string BaseUrl => _app?.BaseAddress ?? throw new InvalidOperationException("The app is not started");

    public static string ScreenshotFolder => Path.Combine(AppContext.BaseDirectory, "flow-page");

    public async Task InitializeAsync()
    {
        if (!File.Exists(Chromium)) return; // every test is skipped, saying why
        SetDefaultExpectTimeout(30_000);
        _app = await AppProcess.ServeAsync(new Dictionary<string, string?>
        {
            ["ConnectionStrings__Postgres"] = await TestPostgres.CreateDatabaseAsync(),
        }, "app (flow page)");
        await _app.WaitForHttpAsync("/", TimeSpan.FromSeconds(90));
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = Chromium, Headless = true });
    }

    /// <summary>A fresh browser context on the page, recording every request and every console error.</summary>
    public async Task<PageSession> OpenAsync(ITestOutputHelper output)
    {
        var context = await _browser!.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1440, Height = 900 } });
        var session = new PageSession(context, await context.NewPageAsync(), BaseUrl, output);
        var response = await session.Page.GotoAsync(BaseUrl + "/");
        response!.Status.ShouldBe(200);
        await Expect(session.Page.Locator("body")).ToHaveAttributeAsync("data-ready", "true");
        return session;
    }

    public async Task DisposeAsync()
    {
        if (_browser != null) await _browser.DisposeAsync();
        _playwright?.Dispose();
        if (_app != null) await _app.DisposeAsync();
    }
}

public sealed class PageSession : IAsyncDisposable
{
    private readonly IBrowserContext _context;
    private readonly string _baseUrl;
    private readonly ITestOutputHelper _output;
    private readonly List<string> _requests = [];
    private readonly List<string> _errors = [];

    public PageSession(IBrowserContext context, IPage page, string baseUrl, ITestOutputHelper output)
    {
        _context = context;
        _baseUrl = baseUrl;
        _output = output;
        Page = page;
        context.Request += (_, request) => { lock (_requests) _requests.Add(request.Url); };
        // Chromium logs every 4xx/5xx answer as "Failed to load resource"; those are checked where they matter. What is
        // left is a script error or a refused load (a Content-Security-Policy violation).
        page.Console += (_, message) =>
        {
            if (message.Type == "error" && !message.Text.StartsWith("Failed to load resource", StringComparison.Ordinal))
                lock (_errors) _errors.Add(message.Text);
        };
        page.PageError += (_, error) => { lock (_errors) _errors.Add(error); };
    }

    public IPage Page { get; }

    public async Task ScreenshotAsync(string name, bool fullPage = true)
    {
        Directory.CreateDirectory(FlowPageApp.ScreenshotFolder);
        var path = Path.Combine(FlowPageApp.ScreenshotFolder, $"{name}.png");
        if (!fullPage) await Page.EvaluateAsync("() => window.scrollTo(0, 0)");
        await Page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = fullPage });
        _output.WriteLine($"screenshot: {path}");
        Console.WriteLine($"Flow page screenshot: {path}");
    }

    /// <summary>Every request went to the app (no CDN, font or script from elsewhere), and the page logged no error.</summary>
    public void ShouldHaveStayedOnTheApp()
    {
        string[] requests, errors;
        lock (_requests) requests = [.. _requests];
        lock (_errors) errors = [.. _errors];
        requests.ShouldNotBeEmpty();
        requests.Where(url => !url.StartsWith(_baseUrl + "/", StringComparison.Ordinal)).ShouldBeEmpty("the page asked another host");
        errors.ShouldBeEmpty("the page logged errors");
        _output.WriteLine($"{requests.Length} requests, all to {_baseUrl}: {string.Join(", ", requests.Select(url => url[_baseUrl.Length..]).Distinct().Take(25))}");
    }

    public async ValueTask DisposeAsync() => await _context.DisposeAsync();
}

/// <summary>Skipped, saying why, only where Debian's chromium is absent (CI installs it).</summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public ChromiumFactAttribute()
    {
        if (!File.Exists(FlowPageApp.Chromium))
            Skip = $"Chromium is not installed at {FlowPageApp.Chromium}: `apt-get install -y chromium` (.ci/run does it)";
    }
}
