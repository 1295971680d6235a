using JasperFx;
using JasperFx.CommandLine;
using OrderEvents.Infrastructure.Kafka;
using OrderEvents.Infrastructure.Postgres;

namespace OrderEvents.Infrastructure.Cli;

/// <summary>What a command of the app's command line uses, from least to most.</summary>
public enum CommandNeeds
{
    /// <summary>Only the configuration (`help`, `describe`, `codegen`), or a broker named on its own (the DLQ commands).</summary>
    Nothing,

    /// <summary>The database, without running the app (`db-apply`, `resources`, ... and any command not known here).</summary>
    Database,

    /// <summary>The whole app, its host started: a plain run, `replay`.</summary>
    RunningApp,
}

public static class CommandLineSetup
{
    /// <summary>
    /// Library commands (Marten's `db-*`, JasperFx's `resources`, Wolverine's `storage`, ...) cannot say what they use,
    /// so anything not named here is taken to need the database.
    /// </summary>
    public static CommandNeeds NeedsOf(string[] args) =>
        args.FirstOrDefault()?.ToLowerInvariant() switch
        {
            null or "run" or "replay" => CommandNeeds.RunningApp,
            { } flag when flag.StartsWith('-') => CommandNeeds.RunningApp, // `-e Staging` etc.: the default command, run
            "help" or "?" or "describe" or "codegen" or "dlq-list" or "dlq-redrive" => CommandNeeds.Nothing,
            _ => CommandNeeds.Database,
        };

    /// <summary>
    /// The settings a command cannot do without and that are not set, as the one line the app prints before exiting;
    /// null when nothing is missing. There is no default server: the development host provides both.
    /// </summary>
    public static string? MissingSettings(IConfiguration configuration, CommandNeeds needs)
    {
        var missing = new List<string>();
        if (needs >= CommandNeeds.Database && string.IsNullOrWhiteSpace(configuration.GetConnectionString(PersistenceSetup.ConnectionStringName)))
            missing.Add("ConnectionStrings__Postgres (the PostgreSQL connection string)");
        var kafka = KafkaSettings.From(configuration);
        if (needs == CommandNeeds.RunningApp && kafka.Enabled && string.IsNullOrWhiteSpace(kafka.Brokers))
            missing.Add("KAFKA_BROKERS (the Kafka bootstrap servers, or KAFKA_ENABLED=false)");
        return missing.Count == 0 ? null
            : $"Not set: {string.Join(" and ", missing)}. For development without them, run `dotnet run --project src/OrderEvents.DevHost`, " +
              "which starts PostgreSQL and a Kafka-protocol broker of its own.";
    }

    /// <summary>A host started without its PostgreSQL or broker (by a test harness, say) stops at once, naming them.</summary>
    public static WebApplicationBuilder RequireInfrastructure(this WebApplicationBuilder builder)
    {
        // First of the hosted services, and in the "starting" phase: before Marten or Wolverine connect anywhere.
        builder.Services.Insert(0, ServiceDescriptor.Singleton<IHostedService>(services =>
            new RequiredSettingsCheck(services.GetRequiredService<IConfiguration>())));
        return builder;
    }

    private sealed class RequiredSettingsCheck(IConfiguration configuration) : IHostedLifecycleService
    {
        public Task StartingAsync(CancellationToken cancellationToken) =>
            MissingSettings(configuration, CommandNeeds.RunningApp) is { } missing ? throw new InvalidOperationException(missing) : Task.CompletedTask;

        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

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
    /// Runs the command given on the command line (a plain run without one). A command that needs a setting that is not
    /// set prints one line naming it and exits with 1, before anything is started.
    /// </summary>
    public static async Task<int> RunCommandsAsync(this WebApplication app, string[] args)
    {
        // Under a test harness (Alba sets AutoStartHost) JasperFx hands the host to the harness, which starts it: the
        // same rule then stops the start (RequireInfrastructure).
        if (!JasperFxEnvironment.AutoStartHost && MissingSettings(app.Configuration, NeedsOf(args)) is { } missing)
        {
            await Console.Error.WriteLineAsync(missing);
            return 1;
        }

        return await app.RunJasperFxCommands(args);
    }
}
