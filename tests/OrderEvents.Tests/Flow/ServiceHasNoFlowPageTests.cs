using System.Net;
using Microsoft.Playwright;
using OrderEvents.Tests.Support;
using Xunit.Abstractions;

namespace OrderEvents.Tests.Flow;

/// <summary>
/// In Production the flow page is off unless FlowPage__Enabled says otherwise: `/` and every helper endpoint are 404,
/// although the page's files are right there. The built app runs as a child process from the project folder (its
/// content root then holds wwwroot) on a database prepared by `db-apply`, as Production requires.
/// </summary>
[Trait("Category", "Browser")]
public sealed class FlowPageProductionTests(ITestOutputHelper output)
{
    [ChromiumFact]
    public async Task in_production_the_page_and_its_endpoints_are_404()
    {
        var projectFolder = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(BuiltApp.AssemblyPath)!, "..", "..", ".."));
        File.Exists(Path.Combine(projectFolder, "wwwroot", "index.html")).ShouldBeTrue(projectFolder);
        var environment = new Dictionary<string, string?>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["ConnectionStrings__Postgres"] = await TestPostgres.CreateDatabaseAsync(),
            ["KAFKA_ENABLED"] = "false",
            ["Jwt__SigningKey"] = "a-production-signing-key-of-at-least-32-bytes!",
        };
        await using (var apply = AppProcess.Start(["db-apply"], environment, "db-apply", output, workingDirectory: projectFolder))
            (await apply.WaitForExitAsync(TimeSpan.FromMinutes(2))).ShouldBe(0, apply.Output);

        await using var app = await AppProcess.ServeAsync(environment, "app (Production)", output, workingDirectory: projectFolder);
        var baseUrl = app.BaseAddress;

        using var client = new HttpClient { BaseAddress = new Uri(baseUrl) };
        foreach (var (method, path) in new[]
                 {
                     ("GET", "/"), ("GET", "/index.html"), ("GET", "/flow.js"), ("GET", "/flow.css"), ("GET", "/flow/config"),
                     ("GET", "/flow/pipeline"), ("GET", "/flow/records"), ("POST", "/flow/faults/broker-outage"),
                     ("DELETE", "/flow/faults/broker-outage"), ("POST", "/flow/faults/burst"),
                 })
        {
            using var response = await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));
            response.StatusCode.ShouldBe(HttpStatusCode.NotFound, $"{method} {path}");
        }

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = FlowPageApp.Chromium, Headless = true });
        var page = await browser.NewPageAsync();
        var answer = await page.GotoAsync(baseUrl + "/");
        answer!.Status.ShouldBe(404);
        output.WriteLine($"Production: {baseUrl}/ answered {answer.Status} in the browser; the API still answers (GET /api/products 200)");
    }
}
