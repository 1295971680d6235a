using System.Diagnostics;
using OrderEvents.DevHost.Embedded;
using OrderEvents.Tests.Support;

namespace OrderEvents.Tests.Infrastructure;

/// <summary>
/// The published service (`dotnet publish -c Release`), run as users run it: `dotnet OrderEvents.dll ...` with no
/// environment at all (so the Production environment), from a folder of its own. The commands that need no
/// infrastructure work and start none; serving without its PostgreSQL and broker is refused in one line, naming the
/// settings and the development host, with a non-zero exit code.
/// </summary>
public sealed class PublishedCliTests : IDisposable
{
    /// <summary>No ASPNETCORE_ENVIRONMENT, no data folder, nothing: the published app's own defaults.</summary>
    private static readonly Dictionary<string, string?> NoEnvironment = new()
    {
        ["ASPNETCORE_ENVIRONMENT"] = null,
        ["EmbeddedPostgres__DataDirectory"] = null,
    };

    // A normal folder (not CreateTempSubdirectory's 0700: the postgres account must be able to enter it, or the
    // default data folder would move to /var/lib/orderevents).
    private readonly string _workingDirectory = Directory.CreateDirectory(
        Path.Combine(Path.GetTempPath(), "orderevents-cwd-" + Guid.NewGuid().ToString("N")[..10])).FullName;

    private async Task<AppProcess> Run(params string[] arguments) =>
        AppProcess.Start(arguments, NoEnvironment, arguments.FirstOrDefault() ?? "app", assembly: await PublishedApp.AssemblyPathAsync(), workingDirectory: _workingDirectory);

    [Theory]
    [InlineData("help", "dlq-redrive")]
    [InlineData("describe", "Wolverine")]
    [InlineData("codegen preview", "POST_api_orders")]
    public async Task a_command_that_only_reads_the_configuration_works_and_starts_nothing(string command, string expected)
    {
        await using var app = await Run(command.Split(' '));
        (await app.WaitForExitAsync(TimeSpan.FromSeconds(120))).ShouldBe(0, app.Output);
        app.Output.ShouldContain(expected);
        // The development host's own command is not the service's.
        if (command == "help") app.Output.ShouldNotContain("kafka-broker");
        ShouldBeClean(app);
        app.ListeningPortsSeen.ShouldBeEmpty();
    }

    [Fact]
    public async Task dlq_list_with_brokers_works_against_the_development_hosts_standalone_broker()
    {
        await using var broker = await StandaloneBroker.StartAsync(settings: NoEnvironment);
        await using (var list = await Run("dlq-list", "--brokers", broker.BootstrapServers))
        {
            (await list.WaitForExitAsync(TimeSpan.FromSeconds(90))).ShouldBe(0, list.Output);
            list.Output.ShouldContain("0 dead letter(s)");
            ShouldBeClean(list);
        }

        (await broker.Process.StopAsync()).ShouldBe(0, broker.Process.Output);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("Development")]
    public async Task serving_without_a_database_or_broker_is_refused_in_one_line_within_seconds_in_any_environment(string? environment)
    {
        var clock = Stopwatch.StartNew();
        await using var app = AppProcess.Start([], new Dictionary<string, string?>(NoEnvironment) { ["ASPNETCORE_ENVIRONMENT"] = environment },
            "app", assembly: await PublishedApp.AssemblyPathAsync(), workingDirectory: _workingDirectory);
        (await app.WaitForExitAsync(TimeSpan.FromSeconds(90))).ShouldNotBe(0, app.Output);
        clock.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(20), "the refusal took longer than a start-up");
        var refusal = app.Errors.ShouldHaveSingleItem(app.Output);
        refusal.ShouldStartWith("Not set: ConnectionStrings__Postgres");
        refusal.ShouldContain("KAFKA_BROKERS");
        refusal.ShouldContain("dotnet run --project src/OrderEvents.DevHost");
        ShouldBeClean(app);
        app.ListeningPortsSeen.ShouldBeEmpty("nothing may listen: neither Kestrel nor a broker");
    }

    [Fact]
    public async Task a_database_command_without_a_database_is_refused_naming_only_the_database()
    {
        await using var app = await Run("db-apply");
        (await app.WaitForExitAsync(TimeSpan.FromSeconds(90))).ShouldNotBe(0, app.Output);
        var refusal = app.Errors.ShouldHaveSingleItem(app.Output);
        refusal.ShouldContain("ConnectionStrings__Postgres");
        refusal.ShouldNotContain("KAFKA_BROKERS");
        ShouldBeClean(app);
    }

    /// <summary>No crash text, and no embedded PostgreSQL: its default data folder for this working directory never appeared.</summary>
    private void ShouldBeClean(AppProcess app)
    {
        app.Output.ShouldNotContain("Unhandled exception");
        app.Lines.ShouldNotContain(line => line.TrimStart().StartsWith("at ", StringComparison.Ordinal) && line.Contains('('), "a stack trace");
        app.Lines.ShouldNotContain(line => line.Contains("Embedded PostgreSQL"));
        Directory.Exists(EmbeddedPostgres.DefaultDataDirectory(_workingDirectory)).ShouldBeFalse("an embedded PostgreSQL was started");
    }

    public void Dispose()
    {
        AppProcess.RemoveFolder(Path.GetDirectoryName(EmbeddedPostgres.DefaultDataDirectory(_workingDirectory))!);
        AppProcess.RemoveFolder(_workingDirectory);
    }
}
