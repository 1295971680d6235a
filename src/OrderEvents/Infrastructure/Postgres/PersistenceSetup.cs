using JasperFx;
using Marten;
using OrderEvents.Infrastructure.Hosting;
using Wolverine.Marten;

namespace OrderEvents.Infrastructure.Postgres;

public static class PersistenceSetup
{
    public const string ConnectionStringName = "Postgres";

    /// <summary>
    /// Marten (documents, the event store) plus Wolverine's outbox/inbox tables, in one PostgreSQL database.
    /// Without ConnectionStrings__Postgres, the development setup (Infrastructure/Embedded) provides the server.
    /// </summary>
    public static WebApplicationBuilder AddPersistence(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        if (builder.Configuration.GetConnectionString(ConnectionStringName) is { Length: > 0 } configured)
            services.AddSingleton(new PostgresConnection(configured));

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

/// <summary>Where PostgreSQL is: the configured server, or the development setup's.</summary>
public sealed class PostgresConnection(string connectionString)
{
    public string ConnectionString { get; } = connectionString;
}
