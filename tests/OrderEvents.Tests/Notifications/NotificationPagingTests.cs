using System.Text.Json;
using Alba;
using Microsoft.Extensions.DependencyInjection;
using OrderEvents.Features.Notifications;
using OrderEvents.Tests.Support;

namespace OrderEvents.Tests.Notifications;

/// <summary>
/// GET /api/notifications pages: newest first, equal timestamps broken by the larger id (PostgreSQL's uuid order, which
/// is the order of their text), every notification on exactly one page, the user's total on every page (past the last
/// one too). The rows are stored through the notifications' own context, so that their timestamps can be chosen (a
/// batch of events stores its notifications with one timestamp: ties are the normal case).
/// </summary>
[Collection(AppCollection.Name)]
public sealed class NotificationPagingTests(AppFixture fixture) : IntegrationContext(fixture)
{
    private static readonly DateTimeOffset Noon = DateTimeOffset.Parse("2026-03-01T12:00:00.123456Z");

    [Fact]
    public async Task pages_are_newest_first_ties_go_to_the_larger_id_and_every_notification_is_on_exactly_one_page()
    {
        var user = await RegisterAndLogin();
        var other = await RegisterAndLogin();
        var batch = Enumerable.Range(0, 5).Select(_ => Guid.NewGuid()).ToList();
        var older = Enumerable.Range(0, 2).Select(_ => Guid.NewGuid()).ToList();
        var newest = Guid.NewGuid();
        await StoreNotifications(user.Id, [.. batch.Select(id => (id, Noon)), .. older.Select(id => (id, Noon.AddSeconds(-1))), (newest, Noon.AddTicks(10))]);
        await StoreNotifications(other.Id, [(Guid.NewGuid(), Noon), (Guid.NewGuid(), Noon.AddSeconds(1))]);
        Guid[] newestFirst = [newest, .. LargerIdFirst(batch), .. LargerIdFirst(older)];

        var first = await Page(user, "page=1&pageSize=3");
        Ids(first).ShouldBe(newestFirst[..3]);
        (first.GetProperty("pageNumber").GetInt64(), first.GetProperty("pageSize").GetInt64(), first.GetProperty("totalCount").GetInt64()).ShouldBe((1, 3, 8));
        first.GetProperty("items")[0].GetProperty("createdAt").GetDateTimeOffset().ShouldBe(Noon.AddTicks(10));
        var last = await Page(user, "page=3&pageSize=3");
        Ids(last).ShouldBe(newestFirst[6..]);
        last.GetProperty("totalCount").GetInt64().ShouldBe(8);

        var walked = new List<Guid>();
        for (var page = 1; page <= 4; page++) walked.AddRange(Ids(await Page(user, $"page={page}&pageSize=2")));
        walked.ShouldBe(newestFirst);
        Ids(await Page(user, "pageSize=100")).ShouldBe(newestFirst);

        foreach (var beyond in new[] { "page=5&pageSize=2", "page=10000000&pageSize=100" })
        {
            var empty = await Page(user, beyond);
            Ids(empty).ShouldBeEmpty();
            empty.GetProperty("totalCount").GetInt64().ShouldBe(8, $"{beyond}: the total does not depend on the page");
        }

        (await Page(other, "page=1&pageSize=20")).GetProperty("totalCount").GetInt64().ShouldBe(2);
    }

    /// <summary>PostgreSQL compares uuids byte by byte, which is the ordinal order of their canonical text.</summary>
    private static IEnumerable<Guid> LargerIdFirst(IEnumerable<Guid> ids) => ids.OrderByDescending(id => id.ToString(), StringComparer.Ordinal);

    private async Task StoreNotifications(long userId, (Guid Id, DateTimeOffset CreatedAt)[] notifications)
    {
        await using var scope = Host.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<NotificationsDbContext>();
        db.Notifications.AddRange(notifications.Select(n => new Notification
        {
            Id = n.Id, UserId = userId, Type = "ORDER_CREATED", Message = "Your order #1 has been created. Total: $1", OrderId = 1, CreatedAt = n.CreatedAt,
        }));
        await db.SaveChangesAsync();
    }

    private async Task<JsonElement> Page(TestUser user, string query) =>
        await (await Host.Scenario(s =>
        {
            s.Get.Url($"/api/notifications?{query}");
            s.WithBearerToken(user.Token);
        })).Json();

    private static Guid[] Ids(JsonElement page) => page.GetProperty("items").EnumerateArray().Select(n => n.GetProperty("id").GetGuid()).ToArray();
}
