using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Wolverine.EntityFrameworkCore;

namespace OrderEvents.Features.Notifications;

/// <summary>
/// The notification side's own store: an EF Core context on its own schema, with migrations in
/// Features/Notifications/Migrations. It shares the database with the order side, and one thing more: when an event
/// arrives before its predecessors, NotifyUsersHandler reads them from the order log (Marten's event store).
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
            notification.HasKey(n => n.Id);
            notification.Property(n => n.Id).HasColumnName("id").ValueGeneratedNever();
            notification.Property(n => n.UserId).HasColumnName("user_id");
            notification.Property(n => n.Type).HasColumnName("type").HasMaxLength(64);
            notification.Property(n => n.Message).HasColumnName("message").HasMaxLength(500);
            notification.Property(n => n.OrderId).HasColumnName("order_id");
            notification.Property(n => n.CreatedAt).HasColumnName("created_at");
            // The live stream's resume point; the insert trigger reassigns it under a per-user lock (migration).
            notification.Property(n => n.Position).HasColumnName("position").UseIdentityByDefaultColumn();
            notification.HasIndex(n => new { n.UserId, n.Position }).IsUnique();
            notification.Property(n => n.Version).HasColumnName("version");
            // The ordering check of each batch: the highest version an order already has a notification for.
            notification.HasIndex(n => new { n.OrderId, n.Version });
            // Serves "my notifications, newest first"; the id breaks ties so paging never repeats or skips a row.
            notification.HasIndex(n => new { n.UserId, n.CreatedAt, n.Id }).IsDescending(false, true, true);
        });
        modelBuilder.Entity<DeadLetteredEvent>(deadLettered =>
        {
            deadLettered.ToTable("dead_lettered_events");
            deadLettered.HasKey(d => d.EventId);
            deadLettered.Property(d => d.EventId).HasColumnName("event_id").ValueGeneratedNever();
            deadLettered.Property(d => d.OrderId).HasColumnName("order_id");
            deadLettered.Property(d => d.UserId).HasColumnName("user_id");
            deadLettered.Property(d => d.Version).HasColumnName("version");
            deadLettered.Property(d => d.EventType).HasColumnName("event_type").HasMaxLength(64);
            deadLettered.Property(d => d.SqlState).HasColumnName("sql_state").HasMaxLength(5);
            deadLettered.Property(d => d.ConstraintName).HasColumnName("constraint_name");
            deadLettered.Property(d => d.Message).HasColumnName("message");
            deadLettered.Property(d => d.DeadLetteredAt).HasColumnName("dead_lettered_at");
            // The fill-in looks up the held-back orders' dead-lettered events.
            deadLettered.HasIndex(d => new { d.OrderId, d.Version });
        });
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
