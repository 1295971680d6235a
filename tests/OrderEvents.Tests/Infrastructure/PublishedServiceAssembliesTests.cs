using OrderEvents.Tests.Support;
using Xunit.Abstractions;

namespace OrderEvents.Tests.Infrastructure;

/// <summary>
/// A plain run of the published service (Release: pre-generated handler code) maps no Roslyn: JasperFx's command line
/// would load every assembly of the application folder to look for commands, the 19 Microsoft.CodeAnalysis ones
/// included (~16 MiB resident, docs/benchmarks.md, issue 23), so a plain run starts the host without it.
/// </summary>
public sealed class PublishedServiceAssembliesTests(ITestOutputHelper output)
{
    [Fact]
    public async Task a_plain_run_serves_an_order_without_loading_roslyn()
    {
        var environment = AppProcess.ServiceSettings(new Dictionary<string, string?>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Development", // creates its schema at start-up
            ["ConnectionStrings__Postgres"] = await TestPostgres.CreateDatabaseAsync(),
            ["KAFKA_ENABLED"] = "false",
        });
        var assembly = await PublishedApp.AssemblyPathAsync();
        File.Exists(Path.Combine(Path.GetDirectoryName(assembly)!, "Microsoft.CodeAnalysis.dll")).ShouldBeTrue("the publish no longer ships Roslyn: this test proves nothing");
        await using var app = await AppProcess.ServeAsync(environment, "service", output, assembly: assembly,
            workingDirectory: Path.GetDirectoryName(assembly));

        var token = await app.RegisterAndLoginAsync($"assemblies-{Guid.NewGuid():N}@tests.local");
        using var created = await app.PlaceOrderAsync(token);
        created.EnsureSuccessStatusCode();

        var mapped = File.ReadLines($"/proc/{app.Id}/maps").Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Last())
            .Where(path => path.EndsWith(".dll", StringComparison.Ordinal)).Distinct().ToList();
        output.WriteLine($"{mapped.Count} assemblies mapped");
        mapped.ShouldContain(path => path.EndsWith("/Wolverine.dll", StringComparison.Ordinal));
        mapped.ShouldNotContain(path => Path.GetFileName(path).StartsWith("Microsoft.CodeAnalysis", StringComparison.Ordinal));
        // What else is mapped besides the framework, for the record (Wolverine's automatic discovery is off: MessagingSetup).
        output.WriteLine(string.Join(", ", mapped.Select(path => Path.GetFileName(path)).Where(name => !name.StartsWith("System.", StringComparison.Ordinal) && !name.StartsWith("Microsoft.", StringComparison.Ordinal))));
        // Started without JasperFx's `run`, it still stops gracefully on SIGTERM.
        (await app.StopAsync()).ShouldBe(0, app.Output);
    }
}
