using JasperFx.CommandLine;

namespace OrderEvents.Infrastructure.Cli;

public static class CommandLineSetup
{
    /// <summary>
    /// Keeps JasperFx from printing "Searching '&lt;assembly&gt;' for commands" for every extension assembly on each run.
    /// JasperFx prints those lines until it has applied its extensions to a service collection once in the process (a
    /// static latch in CommandFactory); with WebApplication it never gets to (RunJasperFxCommands receives an already
    /// built host and skips extensions), so every run printed them. Applying the (empty) extension set here flips the
    /// latch and changes nothing else: the commands are still discovered the same way.
    /// </summary>
    public static WebApplicationBuilder QuietCommandDiscovery(this WebApplicationBuilder builder)
    {
        new CommandFactory().ApplyExtensions(builder.Services);
        return builder;
    }

    /// <summary>
    /// The app was started for a command that only reads its configuration: `help`, `describe`, `codegen`. Those
    /// build the app (Marten's options need the connection string) but must not start a database. The embedded
    /// broker needs no such check: it starts with the host, which these commands never start.
    /// </summary>
    public static bool DescribesTheAppOnly { get; } =
        Environment.GetCommandLineArgs().Skip(1).FirstOrDefault()?.ToLowerInvariant() is "help" or "?" or "describe" or "codegen";
}
