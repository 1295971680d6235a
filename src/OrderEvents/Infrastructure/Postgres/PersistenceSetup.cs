using JasperFx;
using OrderEvents.Infrastructure.Cli;
using Marten;
using OrderEvents.Features.Auth;
using OrderEvents.Features.Notifications;
using OrderEvents.Features.Orders;
using OrderEvents.Features.Products;
using Wolverine.Marten;

namespace OrderEvents.Infrastructure.Postgres;

public static class PersistenceSetup
{
    public const string ConnectionStringName = "Postgres";

    /// <summary>
    /// Marten documents plus Wolverine's outbox/inbox tables, in one PostgreSQL database.
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

        services.AddMarten(sp =>
            {
                var options = new StoreOptions();
                options.Connection(sp.GetRequiredService<PostgresConnection>().ConnectionString);
                options.DatabaseSchemaName = "orderevents";
                options.AutoCreateSchemaObjects = AutoCreate.CreateOrUpdate;

                options.Schema.For<User>().UniqueIndex(user => user.Email);
                options.Schema.For<Product>();
                options.Schema.For<Order>()
                    .Index(order => order.UserId)
                    // Two racing pay/cancel requests: the second commit fails instead of overwriting the first.
                    .UseOptimisticConcurrency(true);
                // The notification's id IS the event id: a redelivered event cannot make a second one.
                options.Schema.For<Notification>().Index(notification => notification.UserId);
                return options;
            })
            .UseLightweightSessions()
            .IntegrateWithWolverine()
            .ApplyAllDatabaseChangesOnStartup();

        if (builder.Configuration.GetValue("Catalog:SeedDemoProducts", builder.Environment.IsDevelopment()))
            services.InitializeMartenWith<DemoCatalog>();

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
