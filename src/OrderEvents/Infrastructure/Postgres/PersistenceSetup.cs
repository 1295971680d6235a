using JasperFx;
using OrderEvents.Infrastructure.Cli;
using Marten;
using OrderEvents.Infrastructure.Hosting;
using Wolverine.Marten;

namespace OrderEvents.Infrastructure.Postgres;

public static class PersistenceSetup
{
    public const string ConnectionStringName = "Postgres";

    /// <summary>
    /// Marten (documents, the event store) plus Wolverine's outbox/inbox tables, in one PostgreSQL database.
    /// Without ConnectionStrings__Postgres, a local server is started from the machine's binaries on first use.
    /// </summary>
    public static WebApplicationBuilder AddPersistence(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        var configured = builder.Configuration.GetConnectionString(ConnectionStringName);
        var dataDirectory = builder.Configuration["EmbeddedPostgres:DataDirectory"];
        var contentRoot = builder.Environment.ContentRootPath;

        services.AddSingleton(sp => string.IsNullOrWhiteSpace(configured)
            ? new PostgresConnection(EmbeddedPostgres.Planned(
                dataDirectory ?? EmbeddedPostgres.DefaultDataDirectory(contentRoot), sp.GetRequiredService<ILogger<EmbeddedPostgres>>()))
            : new PostgresConnection(configured));
        services.AddEmbeddedPostgresStartup();

        var marten = services.AddMarten(sp =>
            {
                var options = new StoreOptions();
                options.Connection(PostgresConnectionDefaults.Apply(sp.GetRequiredService<PostgresConnection>().ConnectionString));
                options.DatabaseSchemaName = "orderevents";
                // Elsewhere than Development the schema is applied by `db-apply` (see README), never at start-up.
                options.AutoCreateSchemaObjects = builder.Environment.AutoCreateSchema() ? AutoCreate.CreateOrUpdate : AutoCreate.None;
                PostgresConnectionDefaults.FailFast(options);
                // Each feature adds its own documents, events and projections (services.ConfigureMarten in its folder).
                return options;
            })
            .UseLightweightSessions()
            .IntegrateWithWolverine();
        if (builder.Environment.AutoCreateSchema()) marten.ApplyAllDatabaseChangesOnStartup();

        return builder;
    }
}

/// <summary>Where PostgreSQL is; owns the embedded server (started on first use, stopped when the container is disposed).</summary>
public sealed class PostgresConnection : IDisposable
{
    public PostgresConnection(string connectionString) => ConnectionString = connectionString;

    public PostgresConnection(EmbeddedPostgres embedded)
    {
        Embedded = embedded;
        ConnectionString = embedded.ConnectionString;
        // Commands that only describe the app (help, describe, codegen) need the connection string, never a database.
        if (!CommandLineSetup.DescribesTheAppOnly) embedded.EnsureStarted();
    }

    public string ConnectionString { get; }

    public EmbeddedPostgres? Embedded { get; }

    public void Dispose() => Embedded?.Dispose();
}
