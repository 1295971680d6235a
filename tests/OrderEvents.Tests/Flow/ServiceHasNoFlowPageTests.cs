using System.Net;
using Microsoft.Playwright;
using OrderEvents.Tests.Support;
using Xunit.Abstractions;

namespace OrderEvents.Tests.Flow;

/// <summary>
/// The flow page belongs to the development host: the service serves neither `/` nor any helper endpoint nor the page's
/// files, in Development as much as in Production. The built service runs as a child process from its project folder
/// (its content root, where the page's files used to be) with everything it needs configured.
/// </summary>
[Trait("Category", "Browser")]
public sealed class ServiceHasNoFlowPageTests(ITestOutputHelper output)
{
    [ChromiumFact]
    public async Task the_service_serves_no_flow_page_and_no_flow_endpoint_even_in_development()
    {
        var projectFolder = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(BuiltApp.AssemblyPath)!, "..", "..", ".."));
        File.Exists(Path.Combine(projectFolder, "OrderEvents.csproj")).ShouldBeTrue(projectFolder);
        var environment = AppProcess.ServiceSettings(new Dictionary<string, string?>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Development",
            ["ConnectionStrings__Postgres"] = await TestPostgres.CreateDatabaseAsync(),
            ["KAFKA_ENABLED"] = "false",
        });
        await using var app = await AppProcess.ServeAsync(environment, "service (Development)", output, workingDirectory: projectFolder,
            assembly: BuiltApp.AssemblyPath);
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
        output.WriteLine($"The service: {baseUrl}/ answered {answer.Status} in the browser; the API still answers (GET /api/products 200)");
    }
}
