using JasperFx;
using Marten;
using Wolverine;
using Wolverine.Marten;

namespace OrderEvents.Infrastructure.Postgres;

public static class PersistenceSetup
{
    public const string ConnectionStringName = "Postgres";

    /// <summary>
    /// Marten (documents, the event store) plus Wolverine's outbox/inbox tables, in one PostgreSQL database.
    /// Without ConnectionStrings__Postgres, the development setup (Infrastructure/Embedded) provides the server.
    /// Schemas change at start-up only in Development; every other environment must say where its database is and
    /// applies schema changes only through the documented commands (`db-apply`, `resources setup`, see README).
    /// </summary>
    public static WebApplicationBuilder AddPersistence(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        var autoCreateSchema = builder.Environment.IsDevelopment();
        if (!autoCreateSchema) services.ConfigureWolverine(opts => opts.AutoBuildMessageStorageOnStartup = AutoCreate.None);
        if (builder.Configuration.GetConnectionString(ConnectionStringName) is { Length: > 0 } configured)
            services.AddSingleton(new PostgresConnection(configured));

        var marten = services.AddMarten(sp =>
            {
                var options = new StoreOptions();
                options.Connection(PostgresConnectionDefaults.Apply(sp.GetRequiredService<PostgresConnection>().ConnectionString));
                options.DatabaseSchemaName = "orderevents";
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

/// <summary>Where PostgreSQL is: the configured server, or the development setup's.</summary>
public sealed class PostgresConnection(string connectionString)
{
    public string ConnectionString { get; } = connectionString;
}
