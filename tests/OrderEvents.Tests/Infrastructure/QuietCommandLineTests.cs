using OrderEvents.Tests.Support;

namespace OrderEvents.Tests.Infrastructure;

/// <summary>
/// `help` and `describe` of the built app: no JasperFx command discovery lines, and neither the embedded PostgreSQL
/// nor the embedded broker is started (no log line of either, the process never listens on a port, the data folder is
/// never created).
/// </summary>
public sealed class QuietCommandLineTests
{
    [Theory]
    [InlineData("help")]
    [InlineData("describe")]
    public async Task the_command_starts_no_database_and_no_broker_and_prints_no_discovery_lines(string command)
    {
        // Embedded PostgreSQL and embedded broker, as a newcomer's `dotnet run` would get them.
        await using var app = AppProcess.Start([command]);
        var exitCode = await app.WaitForExitAsync(TimeSpan.FromSeconds(90));

        exitCode.ShouldBe(0, app.Output);
        app.Output.ShouldContain(command == "help" ? "kafka-broker" : "Wolverine", customMessage: "the command did its job");
        app.Lines.ShouldNotContain(line => line.Contains("for commands"), "JasperFx discovery lines");
        app.Lines.ShouldNotContain(line => line.Contains("Embedded Kafka broker"), "the broker started");
        app.ListeningPortsSeen.ShouldBeEmpty("the process listened on a port: the embedded broker (or a web server) was started");
        app.Lines.ShouldNotContain(line => line.Contains("Embedded PostgreSQL"), "PostgreSQL started");
        app.EmbeddedServerCreated.ShouldBeFalse("initdb ran: the data folder exists");
    }
}
