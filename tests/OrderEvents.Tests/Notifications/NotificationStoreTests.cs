using System.Net;
using Alba;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OrderEvents.Features.Notifications;
using OrderEvents.Infrastructure.Http;
using OrderEvents.Tests.Support;

namespace OrderEvents.Tests.Notifications;

[Collection(AppCollection.Name)]
public sealed class NotificationStoreTests(AppFixture fixture) : IntegrationContext(fixture)
{
    [Fact]
    public async Task the_migrations_create_the_notification_store_on_an_empty_database()
    {
        var empty = await TestPostgres.CreateDatabaseAsync();
        var options = new DbContextOptionsBuilder<NotificationsDbContext>()
            .UseNpgsql(empty, npgsql => npgsql.MigrationsHistoryTable("__ef_migrations_history", NotificationsDbContext.Schema))
            .Options;
        await using var db = new NotificationsDbContext(options);

        await db.Database.MigrateAsync();

        (await db.Database.GetPendingMigrationsAsync()).ShouldBeEmpty();
        (await db.Notifications.CountAsync()).ShouldBe(0);
        var indexes = Convert.ToInt64(await Sql.ScalarAsync(empty,
            "select count(*) from pg_indexes where schemaname = 'notifications' and tablename = 'notifications'"));
        indexes.ShouldBe(4); // the primary key (event id), the per-user listing, the per-user stream position and (order, version)
    }

    [Fact]
    public async Task notifications_with_the_same_timestamp_page_without_repeats_or_gaps()
    {
        var user = await RegisterAndLogin();
        var sameMoment = DateTimeOffset.UtcNow;
        var ids = Enumerable.Range(0, 7).Select(_ => Guid.NewGuid()).ToList();
        await using (var scope = Host.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<NotificationsDbContext>();
            db.Notifications.AddRange(ids.Select(id => new Notification
            {
                Id = id, UserId = user.Id, Type = "ORDER_CREATED", Message = "m", OrderId = 1, CreatedAt = sameMoment,
            }));
            await db.SaveChangesAsync();
        }

        var seen = new List<Guid>();
        for (var page = 1; page <= 4; page++)
        {
            var result = await Host.Scenario(s =>
            {
                s.Get.Url($"/api/notifications?page={page}&pageSize=2");
                s.WithBearerToken(user.Token);
                s.StatusCodeShouldBe(HttpStatusCode.OK);
            });
            var body = (await result.ReadAsJsonAsync<Page<NotificationResponse>>())!;
            body.TotalCount.ShouldBe(7);
            seen.AddRange(body.Items.Select(n => n.Id));
        }

        seen.ShouldBe(ids.OrderByDescending(id => id.ToString(), StringComparer.Ordinal).ToList()); // no repeats, no gaps: ties broken by id (PostgreSQL orders uuids as their text)
    }
}
