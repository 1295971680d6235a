using System.Net.Http.Headers;
using Alba;
using JasperFx.CommandLine;
using JasperFx.Core;
using Marten;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using OrderEvents.Features.Auth;
using OrderEvents.DevHost;
using OrderEvents.DevHost.Embedded;
using OrderEvents.Infrastructure.Kafka;
using Wolverine;

namespace OrderEvents.Tests.Support;

/// <summary>
/// The real service (Program) in an Alba host, on its own PostgreSQL database and its own Kafka-protocol broker
/// (the development host's embedded one, or KAFKA_BROKERS with a private consumer group), shared by one test collection.
/// </summary>
public class AppFixture : IAsyncLifetime
{
    public const string AdminEmail = "admin@tests.local";

    private IAlbaHost? _host;

    public IAlbaHost Host => _host ?? throw new InvalidOperationException("The host is not started");

    /// <summary>The embedded broker, or null when the tests run against KAFKA_BROKERS.</summary>
    public EmbeddedKafkaBroker? Broker { get; private set; }

    public string BootstrapServers { get; private set; } = "";

    public string ConnectionString { get; private set; } = "";

    public string ConsumerGroup { get; } = "tests-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>The spans and metrics the app exported (OpenTelemetry in-memory exporters).</summary>
    public ExportedTelemetry Telemetry { get; } = new();

    protected virtual bool KafkaEnabled => true;

    /// <summary>A secret signing key, so tests can check it never appears in logs or bodies.</summary>
    public string SigningKey { get; } = "test-signing-key-" + Guid.NewGuid().ToString("N");

    /// <summary>A password in the connection string (the test server trusts local connections and ignores it).</summary>
    public string DatabasePassword { get; } = "test-db-password-" + Guid.NewGuid().ToString("N")[..12];

    public CapturedLogs Logs { get; } = new();

    /// <summary>This fixture's database (a fresh one on the shared test server unless overridden).</summary>
    protected virtual Task<string> CreateDatabaseAsync() => TestPostgres.CreateDatabaseAsync();

    /// <summary>Settings of a derived fixture, applied after (and over) the common ones.</summary>
    protected virtual void Configure(IWebHostBuilder builder) { }

    public async Task InitializeAsync()
    {
        JasperFxEnvironment.AutoStartHost = true;
        ConnectionString = await CreateDatabaseAsync();

        if (KafkaEnabled)
        {
            var external = Environment.GetEnvironmentVariable("KAFKA_BROKERS");
            if (string.IsNullOrWhiteSpace(external))
            {
                Broker = EmbeddedKafkaBroker.StartWithServiceTopics();
                BootstrapServers = Broker.BootstrapServers;
            }
            else
            {
                BootstrapServers = external;
                // A shared broker keeps the records of earlier runs and fixtures: a new group starting at the earliest
                // record would turn them into notifications for this run's users. Start this fixture's group at the end.
                new KafkaProbe(BootstrapServers).MoveGroupToEnd(ConsumerGroup, KafkaSettings.OrderEventsTopic);
            }

            await BeforeHostStartsAsync();
        }

        _host = await StartHostAsync(builder =>
        {
            builder.UseSetting("ConnectionStrings:Postgres", ConnectionString + ";Password=" + DatabasePassword);
            builder.UseSetting("Jwt:SigningKey", SigningKey);
            builder.UseSetting("Telemetry:Traces", "true"); // the in-memory exporter below is the tests' collector
            builder.UseSetting("KAFKA_ENABLED", KafkaEnabled ? "true" : "false");
            builder.UseSetting("KAFKA_BROKERS", BootstrapServers);
            builder.UseSetting("KAFKA_GROUP_ID", ConsumerGroup);
            builder.UseSetting("Auth:AdminEmails", AdminEmail);
            builder.UseSetting("Catalog:SeedDemoProducts", "true");
            builder.UseSetting("Notifications:MigrateOnStartup", "true");
            // Generous: every test registers and logs in; RateLimitTests runs its own host with tight limits.
            builder.UseSetting("RateLimits:Auth:PermitsPerAddress", "100000");
            builder.UseSetting("RateLimits:Auth:PermitsPerEmail", "100000");
            builder.ConfigureServices(services =>
            {
                services.RunWolverineInSoloMode();
                services.AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(Logs);
                Telemetry.CollectFrom(services);
            });
            Configure(builder);
        });
    }

    /// <summary>The service itself; a derived fixture may host the development host around it.</summary>
    protected virtual Task<IAlbaHost> StartHostAsync(Action<IWebHostBuilder> configure) => AlbaHost.For<Program>(configure);

    /// <summary>Runs after the broker exists and before the app (and its Kafka listener) starts.</summary>
    protected virtual Task BeforeHostStartsAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        if (_host != null)
        {
            await _host.StopAsync();
            await _host.DisposeAsync();
        }

        Broker?.Dispose();
    }

    public IDocumentStore Store => Host.Services.GetRequiredService<IDocumentStore>();
}

/// <summary>The same app with KAFKA_ENABLED=false: events go through a durable local queue.</summary>
public sealed class KafkaDisabledAppFixture : AppFixture
{
    protected override bool KafkaEnabled => false;
}

/// <summary>
/// The development host (the service plus the flow page) on the same kind of database and broker. The broker is the
/// fixture's own, reached through KAFKA_BROKERS, so the host's fault switches must refuse: they never break a broker
/// the host does not run.
/// </summary>
public sealed class DevHostAppFixture : AppFixture
{
    protected override Task<IAlbaHost> StartHostAsync(Action<IWebHostBuilder> configure) => AlbaHost.For<DevHostProgram>(configure);
}

[CollectionDefinition(Name)]
public sealed class DevHostCollection : ICollectionFixture<DevHostAppFixture>
{
    public const string Name = "dev-host";
}

[CollectionDefinition(Name)]
public sealed class AppCollection : ICollectionFixture<AppFixture>
{
    public const string Name = "app";
}

[CollectionDefinition(Name)]
public sealed class KafkaDisabledCollection : ICollectionFixture<KafkaDisabledAppFixture>
{
    public const string Name = "kafka-disabled";
}
