using System.Runtime.InteropServices;
using JasperFx;
using OrderEvents.Infrastructure.Cli;
using OrderEvents.Infrastructure.Kafka;
using OrderEvents.Infrastructure.Postgres;
using Wolverine;
using Wolverine.Kafka.Internals;

namespace OrderEvents.Infrastructure.Embedded;

public static class EmbeddedInfrastructureSetup
{
    /// <summary>
    /// The zero-configuration development setup: a PostgreSQL server run from the machine's binaries when
    /// ConnectionStrings__Postgres is not set, and an in-process Kafka-protocol broker when Kafka is enabled without
    /// KAFKA_BROKERS. With both settings given, nothing of this folder is registered. Outside Development it runs only
    /// with EmbeddedInfrastructure__Allow=true.
    /// </summary>
    public static WebApplicationBuilder AddEmbeddedInfrastructure(this WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        var postgres = string.IsNullOrWhiteSpace(configuration.GetConnectionString(PersistenceSetup.ConnectionStringName));
        var broker = KafkaSettings.From(configuration).UseEmbeddedBroker;
        if (!postgres && !broker) return builder;

        var allowed = builder.Environment.IsDevelopment() || configuration.GetValue(EmbeddedInfrastructure.AllowSetting, false);
        var services = builder.Services;
        services.AddSingleton(sp => new EmbeddedInfrastructure(postgres, broker, allowed, builder.Environment.EnvironmentName, sp));
        if (postgres)
        {
            var dataDirectory = configuration["EmbeddedPostgres:DataDirectory"] ?? EmbeddedPostgres.DefaultDataDirectory(builder.Environment.ContentRootPath);
            // Planned, not started: its address is known at once, the server starts with the host or the command that uses it.
            services.AddSingleton(sp => EmbeddedPostgres.Planned(dataDirectory, sp.GetRequiredService<ILogger<EmbeddedPostgres>>()));
            services.AddSingleton(sp => new PostgresConnection(sp.GetRequiredService<EmbeddedPostgres>().ConnectionString));
        }

        if (broker)
        {
            // Created by the starter when the host starts. It lives as long as the container: Wolverine's Kafka clients,
            // created after it, are disposed before it (a broker destroyed first makes them log errors).
            services.AddSingleton(sp =>
            {
                var embedded = EmbeddedKafkaBroker.StartWithServiceTopics();
                sp.GetRequiredService<ILogger<EmbeddedKafkaBroker>>().LogInformation(
                    "Embedded Kafka broker (librdkafka mock cluster) listening at {BootstrapServers}; topics: {Topics}. Set KAFKA_BROKERS to use a real Kafka.",
                    embedded.BootstrapServers, KafkaSettings.DescribeTopics());
                return embedded;
            });
            services.AddHostedService<RedriveUnnotifiedEvents>();
        }

        services.AddHostedService(sp => sp.GetRequiredService<EmbeddedInfrastructure>());
        return builder;
    }
}

/// <summary>
/// What the development setup runs in this process, and when it may run it. As a hosted service it starts what the
/// host needs in the "starting" phase, which runs before any hosted service's StartAsync (Marten applies its schema,
/// Wolverine recovers its outbox and connects its Kafka clients, all in StartAsync), and points Wolverine's Kafka
/// transport at the broker. What it started is stopped when the container is disposed (the broker) or by whoever runs
/// the command (PostgreSQL, <see cref="RunCommandsAsync"/>).
/// </summary>
public sealed class EmbeddedInfrastructure(bool postgres, bool broker, bool allowed, string environmentName, IServiceProvider services)
    : IHostedLifecycleService
{
    /// <summary>Set to true to run the embedded PostgreSQL / Kafka broker outside Development (demos, CI).</summary>
    public const string AllowSetting = "EmbeddedInfrastructure:Allow";

    private int _hostsRunning;

    /// <summary>
    /// Outside Development nothing embedded starts by accident: a command that would start it is refused with this line,
    /// naming the settings to give. Null when the command may run.
    /// </summary>
    public string? Refusal(CommandNeeds needs)
    {
        if (allowed) return null;
        var missing = new List<string>();
        if (postgres && needs >= CommandNeeds.Database) missing.Add("ConnectionStrings__Postgres (the PostgreSQL connection string)");
        if (broker && needs == CommandNeeds.RunningApp) missing.Add("KAFKA_BROKERS (the Kafka bootstrap servers, or KAFKA_ENABLED=false)");
        if (missing.Count == 0) return null;
        return $"The {environmentName} environment would start embedded development infrastructure " +
               $"(an in-process PostgreSQL server or Kafka broker). Set {string.Join(" and ", missing)}, " +
               "or set EmbeddedInfrastructure__Allow=true to run the embedded ones deliberately.";
    }

    public Task StartingAsync(CancellationToken cancellationToken)
    {
        // A host started elsewhere than the command line (a test host): the same rule, as an exception.
        if (Refusal(CommandNeeds.RunningApp) is { } refusal) throw new InvalidOperationException(refusal);
        Interlocked.Increment(ref _hostsRunning);
        services.GetService<EmbeddedPostgres>()?.EnsureStarted();
        if (services.GetService<EmbeddedKafkaBroker>() is { } embeddedBroker)
        {
            var transport = services.GetRequiredService<WolverineOptions>().Transports.GetOrCreate<KafkaTransport>();
            transport.ProducerConfig.BootstrapServers = embeddedBroker.BootstrapServers;
            transport.ConsumerConfig.BootstrapServers = embeddedBroker.BootstrapServers;
            transport.AdminClientConfig.BootstrapServers = embeddedBroker.BootstrapServers;
        }

        return Task.CompletedTask;
    }

    public Task StoppedAsync(CancellationToken cancellationToken)
    {
        Interlocked.Decrement(ref _hostsRunning);
        return Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Runs the command line with the embedded PostgreSQL started only for a command that uses the database, and
    /// stopped whichever way the command ends: normally, with an error, on Ctrl+C / SIGTERM, or before any host was
    /// started (JasperFx disposes the app at the end, but a service that fails to dispose ends that disposal early).
    /// A refused command prints one line and exits with 1, before anything starts.
    /// </summary>
    public async Task<int> RunCommandsAsync(WebApplication app, string[] args, CommandNeeds needs)
    {
        if (Refusal(needs) is { } refusal)
        {
            await Console.Error.WriteLineAsync(refusal);
            return 1;
        }

        var server = postgres && needs >= CommandNeeds.Database ? services.GetRequiredService<EmbeddedPostgres>() : null;
        // Ctrl+C or SIGTERM while no host runs (during `db-apply`, say) ends the process right after these handlers:
        // the server is stopped here. While a host runs, the host shuts down gracefully and the `finally` below stops it.
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, _ => StopUnlessAHostRuns(server));
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, _ => StopUnlessAHostRuns(server));
        try
        {
            try
            {
                server?.EnsureStarted();
            }
            catch (InvalidOperationException e)
            {
                // No binaries, a folder the postgres account cannot reach, a server that does not start: the message says which.
                await Console.Error.WriteLineAsync(e.Message);
                return 1;
            }

            return await app.RunJasperFxCommands(args);
        }
        finally
        {
            server?.Dispose();
        }
    }

    private void StopUnlessAHostRuns(EmbeddedPostgres? server)
    {
        if (Volatile.Read(ref _hostsRunning) == 0) server?.Dispose();
    }
}
