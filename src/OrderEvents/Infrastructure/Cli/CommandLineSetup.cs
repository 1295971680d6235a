using JasperFx;
using JasperFx.CommandLine;

namespace OrderEvents.Infrastructure.Cli;

/// <summary>
/// What a command uses, from least to most: the configuration alone (or a broker named on its own), the database, the
/// database and the broker beside the running service (`replay`), the whole running app.
/// </summary>
public enum CommandNeeds
{
    Nothing,
    Database,
    Publishing,
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
            null or "run" => CommandNeeds.RunningApp,
            "replay" => CommandNeeds.Publishing,
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
        if (needs >= CommandNeeds.Publishing && kafka.Enabled && string.IsNullOrWhiteSpace(kafka.Brokers))
            missing.Add("KAFKA_BROKERS (the Kafka bootstrap servers, or KAFKA_ENABLED=false)");
        if (missing.Count == 0) return null;
        return $"Not set: {string.Join(" and ", missing)}. " + (needs == CommandNeeds.Publishing
            ? "It publishes to the running service's broker (beside a running development host, on its own data folder, it finds that host's)."
            : "For development without them, run `dotnet run --project src/OrderEvents.DevHost`, which starts PostgreSQL and a Kafka-protocol broker of its own.");
    }

    /// <summary>
    /// A command that publishes beside the running service runs no Wolverine node: no listener (it would join the live
    /// group), no agents (they may take the live nodes' work), no schema change. What Kafka refuses, the live nodes send.
    /// </summary>
    public static WebApplicationBuilder ConfigureForCommand(this WebApplicationBuilder builder, string[] args)
    {
        if (NeedsOf(args) == CommandNeeds.Publishing)
            builder.Services.ConfigureWolverine(opts =>
            {
                opts.DisableAllExternalListeners = true;
                opts.Durability.Mode = DurabilityMode.ServerlessWithOutbox;
                opts.AutoBuildMessageStorageOnStartup = AutoCreate.None;
            });
        return builder;
    }

    /// <summary>
    /// A host started without its PostgreSQL or broker (by a test harness, say) stops at once, naming them: the host
    /// validates this before any hosted service starts (Marten's schema set-up included).
    /// </summary>
    public static WebApplicationBuilder RequireInfrastructure(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<RequiredInfrastructure>().ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<RequiredInfrastructure>, RequiredInfrastructure.Check>();
        return builder;
    }

    private sealed class RequiredInfrastructure
    {
        public sealed class Check(IConfiguration configuration) : IValidateOptions<RequiredInfrastructure>
        {
            public ValidateOptionsResult Validate(string? name, RequiredInfrastructure options) =>
                MissingSettings(configuration, CommandNeeds.RunningApp) is { } missing
                    ? ValidateOptionsResult.Fail(missing) : ValidateOptionsResult.Success;
        }
    }

    /// <summary>
    /// Keeps JasperFx from printing "Searching '&lt;assembly&gt;' for commands" on every run: it stops once it has applied
    /// its extensions to a service collection (a static latch), which a WebApplication never gets it to do.
    /// </summary>
    public static WebApplicationBuilder QuietCommandDiscovery(this WebApplicationBuilder builder)
    {
        new CommandFactory().ApplyExtensions(builder.Services);
        return builder;
    }

    /// <summary>Runs the command line; a command missing a setting it needs prints one line naming it and exits with 1.</summary>
    public static async Task<int> RunCommandsAsync(this WebApplication app, string[] args)
    {
        // Under a test harness (Alba sets AutoStartHost) the harness starts the host, and RequireInfrastructure stops it.
        if (!JasperFxEnvironment.AutoStartHost && MissingSettings(app.Configuration, NeedsOf(args)) is { } missing)
        {
            await Console.Error.WriteLineAsync(missing);
            return 1;
        }

        // A plain run starts the host itself: JasperFx's command discovery loads every assembly of the app folder, Roslyn
        // included (docs/benchmarks.md#cuts). Commands still go through it.
        if (args.Length == 0 && !JasperFxEnvironment.AutoStartHost)
        {
            try
            {
                await app.RunAsync();
                return 0;
            }
            catch (Exception failure)
            {
                // As JasperFx's `run` ends: the error on the console, exit code 1 (not the runtime's crash of an unhandled exception).
                await Console.Error.WriteLineAsync($"ERROR: {failure}");
                return 1;
            }
        }

        return await app.RunJasperFxCommands(args);
    }
}
