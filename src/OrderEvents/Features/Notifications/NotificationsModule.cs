using JasperFx.Core;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using OrderEvents.Features.Orders;
using OrderEvents.Infrastructure.Hosting;
using OrderEvents.Infrastructure.Postgres;
using Wolverine;
using Wolverine.EntityFrameworkCore;

namespace OrderEvents.Features.Notifications;

public static class NotificationsModule
{
    /// <summary>The notifications context (EF Core + Wolverine's transaction integration) and its migrations.</summary>
    public static WebApplicationBuilder AddNotifications(this WebApplicationBuilder builder)
    {
        builder.Services.AddDbContextWithWolverineIntegration<NotificationsDbContext>(
            (services, options) => options.UseNpgsql(
                // The same pool as Marten and Wolverine (same connection string and defaults).
                PostgresConnectionDefaults.Apply(services.GetRequiredService<PostgresConnection>().ConnectionString),
                npgsql => npgsql.MigrationsHistoryTable("__ef_migrations_history", NotificationsDbContext.Schema))
                // A failing query is logged by whoever handles the exception; EF Core's own Error doubled every line
                // (and a batch setting a refused record aside expects several).
                .ConfigureWarnings(warnings => warnings.Log((CoreEventId.QueryIterationFailed, LogLevel.Debug))),
            NotificationsDbContext.WolverineSchema);

        // Migrations are applied at start-up only when asked (the development host and docker-compose do); else by the
        // documented command (dotnet ef database update, or the idempotent script of dotnet ef migrations script).
        if (builder.Configuration.GetValue("Notifications:MigrateOnStartup", false))
            builder.Services.AddHostedService<NotificationsMigrator>();

        // The events of a few milliseconds, up to 500, become one insert and one commit (NotifyUsersHandler). Batches
        // run one at a time, in arrival order, which keeps each order's events in order.
        builder.Services.ConfigureWolverine(opts => opts.BatchMessagesOf<OrderEvent>(batching =>
        {
            batching.BatchSize = 500;
            batching.TriggerTime = 5.Milliseconds();
            batching.Batcher = new NotificationBatcher();
        }).Sequential());

        // Live stream (GET /api/notifications/stream): one LISTEN connection per instance, shared by its streams.
        builder.AddSettings<NotificationStreamSettings>(NotificationStreamSettings.Section);
        builder.Services.AddSingleton<NotificationSignals>();
        builder.Services.AddHostedService(services => services.GetRequiredService<NotificationSignals>());
        return builder;
    }

    /// <summary>Runs before Wolverine's listeners start (hosted services start in registration order).</summary>
    private sealed class NotificationsMigrator(IServiceProvider services) : IHostedService
    {
        public async Task StartAsync(CancellationToken cancellationToken)
        {
            await using var scope = services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<NotificationsDbContext>();
            // EF Core logs each migration it applies; nothing when the schema is current.
            await db.Database.MigrateAsync(cancellationToken);
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
