using JasperFx;
using Marten;

namespace OrderEvents.Infrastructure.Postgres;

public static class PersistenceSetup
{
    public const string ConnectionStringName = "Postgres";

    /// <summary>Marten's documents and event store, and Wolverine's inbox, outbox and node tables.</summary>
    public const string Schema = "orderevents";

    /// <summary>
    /// Marten (documents, the event store) plus Wolverine's outbox/inbox tables. The schema changes at start-up only in
    /// Development; elsewhere through `db-apply` (docs/operations.md#schema-changes).
    /// </summary>
    public static WebApplicationBuilder AddPersistence(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        var autoCreateSchema = builder.Environment.IsDevelopment();
        if (!autoCreateSchema) services.ConfigureWolverine(opts => opts.AutoBuildMessageStorageOnStartup = AutoCreate.None);
        // Unset, commands that only read the configuration (describe, codegen) still build the store; anything that would
        // connect is refused first (CommandLineSetup), and the host name says what is missing.
        services.AddSingleton(new PostgresConnection(
            builder.Configuration.GetConnectionString(ConnectionStringName) is { Length: > 0 } configured ? configured : "Host=ConnectionStrings__Postgres-is-not-set"));

        var marten = services.AddMarten(sp =>
            {
                var options = new StoreOptions();
                options.Connection(PostgresConnectionDefaults.Apply(sp.GetRequiredService<PostgresConnection>().ConnectionString));
                options.DatabaseSchemaName = Schema;
                options.AutoCreateSchemaObjects = autoCreateSchema ? AutoCreate.CreateOrUpdate : AutoCreate.None;
                PostgresConnectionDefaults.FailFast(options);
                // Each feature adds its own documents, events and projections (services.ConfigureMarten in its folder).
                return options;
            })
            .UseLightweightSessions()
            .IntegrateWithWolverine();
        if (autoCreateSchema) marten.ApplyAllDatabaseChangesOnStartup();

        return builder;
    }
}

/// <summary>Where PostgreSQL is (ConnectionStrings__Postgres).</summary>
public sealed class PostgresConnection(string connectionString)
{
    public string ConnectionString { get; } = connectionString;
}
