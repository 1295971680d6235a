using JasperFx;
using JasperFx.CommandLine;
using OrderEvents.Infrastructure.Embedded;

namespace OrderEvents.Infrastructure.Cli;

/// <summary>What a command of the app's command line uses, from least to most.</summary>
public enum CommandNeeds
{
    /// <summary>Only the configuration (`help`, `describe`, `codegen`), or infrastructure of its own (`kafka-broker`, the DLQ commands).</summary>
    Nothing,

    /// <summary>The database, without running the app (`db-apply`, `resources`, ... and any command not known here).</summary>
    Database,

    /// <summary>The whole app, its host started: a plain run, `replay`.</summary>
    RunningApp,
}

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
    /// Runs the command given on the command line (a plain run without one). With the development setup
    /// (Infrastructure/Embedded), it starts its PostgreSQL only for a command that uses the database, and stops it
    /// whichever way the command ends.
    /// </summary>
    public static Task<int> RunCommandsAsync(this WebApplication app, string[] args) =>
        // Under a test harness (Alba sets AutoStartHost) JasperFx hands the host to the harness, which starts it: the
        // development setup's starter applies the same rules there, as exceptions the harness reports.
        app.Services.GetService<EmbeddedInfrastructure>() is { } embedded && !JasperFxEnvironment.AutoStartHost
            ? embedded.RunCommandsAsync(app, args, NeedsOf(args))
            : app.RunJasperFxCommands(args);

    /// <summary>
    /// Library commands (Marten's `db-*`, JasperFx's `resources`, Wolverine's `storage`, ...) cannot say what they use,
    /// so anything not named here is taken to need the database: it works, and the server is stopped when it ends.
    /// </summary>
    public static CommandNeeds NeedsOf(string[] args) =>
        args.FirstOrDefault()?.ToLowerInvariant() switch
        {
            null or "run" => CommandNeeds.RunningApp,
            { } flag when flag.StartsWith('-') => CommandNeeds.RunningApp, // `-e Staging` etc.: the default command, run
            "replay" => CommandNeeds.RunningApp,
            "help" or "?" or "describe" or "codegen" or "kafka-broker" or "dlq-list" or "dlq-redrive" => CommandNeeds.Nothing,
            _ => CommandNeeds.Database,
        };
}
