using System.Runtime.InteropServices;
using JasperFx;
using JasperFx.CommandLine;
using OrderEvents.Infrastructure.Cli;
using OrderEvents.Infrastructure.Kafka;
using OrderEvents.Infrastructure.Postgres;

namespace OrderEvents.DevHost.Embedded;

public static class EmbeddedInfrastructureSetup
{
    /// <summary>
    /// The zero-configuration development setup, for whatever is not configured: a PostgreSQL server run from the
    /// machine's binaries when ConnectionStrings__Postgres is not set, and an in-process Kafka-protocol broker when Kafka
    /// is enabled without KAFKA_BROKERS. Their addresses go into the configuration before the service reads it, so the
    /// service runs exactly as against servers of its own. Each command gets only what it uses: the server's address is
    /// known at once and it starts for a command that uses the database (or with the host); the broker exists for a run
    /// of the app only. A CLI command beside a running development host on the same data folder uses that host's broker.
    /// </summary>
    public static EmbeddedInfrastructure AddEmbeddedInfrastructure(this WebApplicationBuilder builder, string[] args)
    {
        var configuration = builder.Configuration;
        var needs = args.FirstOrDefault() == "kafka-broker" ? CommandNeeds.Nothing : CommandLineSetup.NeedsOf(args);
        var serves = args.Length == 0 || args[0] == "run" || args[0].StartsWith('-');
        var dataDirectory = configuration["EmbeddedPostgres:DataDirectory"] ?? EmbeddedPostgres.DefaultDataDirectory(builder.Environment.ContentRootPath);
        var runningHost = RunningDevHost.Find(dataDirectory);
        var addresses = new Dictionary<string, string?>();

        EmbeddedPostgres? postgres = null;
        if (string.IsNullOrWhiteSpace(configuration.GetConnectionString(PersistenceSetup.ConnectionStringName)))
        {
            // A server another development host runs is used, never stopped, by this one.
            postgres = EmbeddedPostgres.Planned(dataDirectory, stopWhenAdopted: runningHost is null);
            addresses["ConnectionStrings:" + PersistenceSetup.ConnectionStringName] = postgres.ConnectionString;
        }

        EmbeddedKafkaBroker? broker = null;
        var kafka = KafkaSettings.From(configuration);
        if (kafka.Enabled && string.IsNullOrWhiteSpace(kafka.Brokers))
        {
            if (!serves && runningHost?.BootstrapServers is { } running) addresses["KAFKA_BROKERS"] = running;
            else if (needs == CommandNeeds.RunningApp)
            {
                broker = EmbeddedKafkaBroker.StartWithServiceTopics();
                addresses["KAFKA_BROKERS"] = broker.BootstrapServers;
            }
        }

        configuration.AddInMemoryCollection(addresses);
        var embedded = new EmbeddedInfrastructure(postgres, broker, needs, serves ? dataDirectory : null);
        var services = builder.Services;
        // Created by a factory, so the container disposes it (and what it runs) with the host; see AttachTo.
        services.AddSingleton(sp => embedded.AttachedTo(sp));
        services.AddHostedService(sp => sp.GetRequiredService<EmbeddedInfrastructure>());
        if (broker is not null)
        {
            services.AddSingleton(broker);
            services.AddHostedService<RedriveUnnotifiedEvents>();
        }

        return embedded;
    }
}

/// <summary>
/// What the development setup runs in this process. As a hosted service it starts the server in the "starting" phase,
/// before any hosted service's StartAsync (Marten applies its schema, Wolverine recovers its outbox, all in StartAsync).
/// What it started is stopped when the host is disposed, or by <see cref="RunCommandsAsync"/> whichever way the
/// command ends.
/// </summary>
public sealed class EmbeddedInfrastructure(EmbeddedPostgres? postgres, EmbeddedKafkaBroker? broker, CommandNeeds needs, string? servedDataDirectory)
    : IHostedLifecycleService, IDisposable
{
    private int _hostsRunning;
    private bool _brokerEndsWithTheProcess;
    private ILogger _logger = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
    private RunningDevHost? _announced;

    public EmbeddedKafkaBroker? Broker => broker;

    /// <summary>
    /// Resolves this from the app's container before anything else of the app: the container disposes in reverse order,
    /// so the broker and the server go after Wolverine's Kafka clients and database work (a broker destroyed first
    /// makes those clients log errors).
    /// </summary>
    public void AttachTo(WebApplication app) => app.Services.GetRequiredService<EmbeddedInfrastructure>();

    internal EmbeddedInfrastructure AttachedTo(IServiceProvider services)
    {
        var loggers = services.GetRequiredService<ILoggerFactory>();
        _logger = loggers.CreateLogger<EmbeddedInfrastructure>();
        postgres?.UseLogger(loggers.CreateLogger<EmbeddedPostgres>());
        return this;
    }

    public Task StartingAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _hostsRunning);
        postgres?.EnsureStarted();
        if (broker is not null)
            _logger.LogInformation(
                "Embedded Kafka broker (librdkafka mock cluster) listening at {BootstrapServers}; topics: {Topics}. Set KAFKA_BROKERS to use a real Kafka.",
                broker.BootstrapServers, EmbeddedKafkaBroker.DescribeTopics());
        // Commands run beside this host (dlq-list, replay) find its broker and leave its PostgreSQL alone.
        if (servedDataDirectory is not null && (postgres is not null || broker is not null))
            _announced = RunningDevHost.Announce(servedDataDirectory, broker?.BootstrapServers);
        return Task.CompletedTask;
    }

    public Task StoppedAsync(CancellationToken cancellationToken)
    {
        Interlocked.Decrement(ref _hostsRunning);
        _announced?.Withdraw();
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
    /// </summary>
    public async Task<int> RunCommandsAsync(WebApplication app, string[] args)
    {
        // Under a test harness the harness starts and stops the host: StartingAsync and Dispose do the work.
        if (JasperFxEnvironment.AutoStartHost) return await app.RunCommandsAsync(args);

        var server = needs >= CommandNeeds.Database ? postgres : null;
        // The process ends with the command. Wolverine's Kafka listener leaves its dead-letter producer undisposed (its
        // DurableReceiver's synchronous Dispose skips it in Wolverine 6.62); a broker destroyed under that producer has
        // librdkafka print "1/1 brokers are down" on every Ctrl+C. Both go with the process instead.
        _brokerEndsWithTheProcess = true;
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

            return await app.RunCommandsAsync(args);
        }
        finally
        {
            Dispose();
        }
    }

    private void StopUnlessAHostRuns(EmbeddedPostgres? server)
    {
        if (Volatile.Read(ref _hostsRunning) == 0) server?.Dispose();
    }

    public void Dispose()
    {
        _announced?.Withdraw();
        postgres?.Dispose();
        if (!_brokerEndsWithTheProcess) broker?.Dispose();
    }
}

/// <summary>
/// A development host serving on a data folder, as it announces itself in a file there while it runs: its process id
/// and the address of its embedded broker, if it runs one. Removed when it stops; a file whose process is gone is stale.
/// </summary>
public sealed record RunningDevHost(string Location, int ProcessId, string? BootstrapServers)
{
    /// <summary>The development host of another live process on this data folder (&lt;data&gt;/dev-host.running), or null.</summary>
    public static RunningDevHost? Find(string postgresDataDirectory)
    {
        var file = FileFor(postgresDataDirectory);
        try
        {
            var lines = File.ReadAllLines(file);
            if (lines.Length == 0 || !int.TryParse(lines[0], out var pid) || pid == Environment.ProcessId || !IsAlive(pid)) return null;
            return new RunningDevHost(file, pid, lines.Length > 1 && lines[1].Length > 0 ? lines[1] : null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Writes this process's file, unless another live host wrote one (it stays the one commands use).</summary>
    public static RunningDevHost? Announce(string postgresDataDirectory, string? bootstrapServers) =>
        Find(postgresDataDirectory) is null ? Write(postgresDataDirectory, Environment.ProcessId, bootstrapServers) : null;

    /// <summary>The file a host of process <paramref name="processId"/> writes (Announce: this process; tests: any).</summary>
    public static RunningDevHost Write(string postgresDataDirectory, int processId, string? bootstrapServers)
    {
        var file = FileFor(postgresDataDirectory);
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        File.WriteAllLines(file, [processId.ToString(), bootstrapServers ?? ""]);
        return new RunningDevHost(file, processId, bootstrapServers);
    }

    public void Withdraw()
    {
        if (File.Exists(Location) && File.ReadLines(Location).FirstOrDefault() == ProcessId.ToString()) File.Delete(Location);
    }

    public static string FileFor(string postgresDataDirectory) =>
        Path.Combine(Path.GetDirectoryName(Path.GetFullPath(postgresDataDirectory))!, "dev-host.running");

    private static bool IsAlive(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited && !IsZombie(pid);
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>
    /// Killed, but not yet reaped by its parent (a container's init may take a second or more): it looks alive to
    /// HasExited, yet serves nothing. The state follows the command name in /proc/&lt;pid&gt;/stat: "pid (name) Z ...".
    /// </summary>
    private static bool IsZombie(int pid)
    {
        var stat = $"/proc/{pid}/stat";
        if (!File.Exists(stat)) return false;
        var text = File.ReadAllText(stat);
        return text[(text.LastIndexOf(')') + 1)..].TrimStart().StartsWith('Z');
    }
}
