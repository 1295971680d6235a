using JasperFx.Core;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Wolverine.EntityFrameworkCore;

namespace OrderEvents.Features.Notifications;

/// <summary>
/// The notification side's own store: an EF Core context on its own schema, with migrations in
/// Features/Notifications/Migrations. NotifyUsersHandler also reads the order log (Marten) for missing predecessors.
/// </summary>
public sealed class NotificationsDbContext(DbContextOptions<NotificationsDbContext> options) : DbContext(options)
{
    public const string Schema = "notifications";

    /// <summary>Where Wolverine keeps its envelope tables (Marten's schema: Marten is the message store).</summary>
    public const string WolverineSchema = "orderevents";

    public DbSet<Notification> Notifications => Set<Notification>();

    public DbSet<DeadLetteredEvent> DeadLetteredEvents => Set<DeadLetteredEvent>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.HasDefaultSchema(Schema);
        modelBuilder.Entity<Notification>(notification =>
        {
            notification.ToTable("notifications");
            // The event id: idempotency that never expires.
            notification.Property(n => n.Id).ValueGeneratedNever();
            notification.Property(n => n.Type).HasMaxLength(64);
            notification.Property(n => n.Message).HasMaxLength(500);
            // The live stream's resume point; the insert trigger reassigns it under a per-user lock (migration).
            notification.Property(n => n.Position).UseIdentityByDefaultColumn();
            notification.HasIndex(n => new { n.UserId, n.Position }).IsUnique();
            // The ordering check of each batch: the highest version an order already has a notification for.
            notification.HasIndex(n => new { n.OrderId, n.Version });
            // Serves "my notifications, newest first"; the id breaks ties so paging never repeats or skips a row.
            notification.HasIndex(n => new { n.UserId, n.CreatedAt, n.Id }).IsDescending(false, true, true);
        });
        modelBuilder.Entity<DeadLetteredEvent>(deadLettered =>
        {
            deadLettered.ToTable("dead_lettered_events");
            deadLettered.HasKey(d => d.EventId);
            deadLettered.Property(d => d.EventId).ValueGeneratedNever();
            deadLettered.Property(d => d.EventType).HasMaxLength(64);
            deadLettered.Property(d => d.SqlState).HasMaxLength(5);
            // The fill-in looks up the held-back orders' dead-lettered events.
            deadLettered.HasIndex(d => new { d.OrderId, d.Version });
        });
        // The handlers' SQL spells columns in snake case; Wolverine's envelope tables (below) name their own.
        foreach (var property in modelBuilder.Model.GetEntityTypes().SelectMany(entity => entity.GetProperties()))
            property.SetColumnName(JsonNamingPolicy.SnakeCaseLower.ConvertName(property.Name));
        // Lets Wolverine enlist its inbox/outbox rows in this context's transaction.
        modelBuilder.MapWolverineEnvelopeStorage(WolverineSchema);
    }
}

/// <summary>For `dotnet ef` (migrations add/script/database update) without starting the app.</summary>
public sealed class NotificationsDbContextDesignTimeFactory : IDesignTimeDbContextFactory<NotificationsDbContext>
{
    public NotificationsDbContext CreateDbContext(string[] args)
    {
        var connectionString = Environment.GetEnvironmentVariable("ConnectionStrings__Postgres")
                               ?? "Host=127.0.0.1;Database=orderevents;Username=postgres";
        return new NotificationsDbContext(new DbContextOptionsBuilder<NotificationsDbContext>()
            .UseNpgsql(connectionString, npgsql => npgsql.MigrationsHistoryTable("__ef_migrations_history", NotificationsDbContext.Schema))
            .Options);
    }
}

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
                // A failing query is logged by whoever handles the exception; EF Core's own Error doubled every line.
                .ConfigureWarnings(warnings => warnings.Log((CoreEventId.QueryIterationFailed, LogLevel.Debug))),
            NotificationsDbContext.WolverineSchema);

        // Applied at start-up only when asked (the development host and docker-compose do); else docs/operations.md#schema-changes.
        if (builder.Configuration.GetValue("Notifications:MigrateOnStartup", false))
            builder.Services.AddHostedService<NotificationsMigrator>();

        // The events of a few milliseconds, up to 500, become one insert and one commit (NotifyUsersHandler); an outbox
        // batch arrives as one clump, so a short trigger loses little. Two batches run side by side: one at a time, a
        // batch slower than the gap between the outbox's batches made every later batch wait and the event lag grow for
        // the whole burst (docs/benchmarks.md). An event whose predecessor is still in the other batch is held back and
        // the gap filled from the order log; the primary key absorbs the twin insert.
        builder.Services.ConfigureWolverine(opts => opts.BatchMessagesOf<OrderEvent>(batching =>
        {
            batching.BatchSize = 500;
            batching.TriggerTime = 2.Milliseconds();
            batching.Batcher = new NotificationBatcher();
        }).MaximumParallelMessages(2));

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
