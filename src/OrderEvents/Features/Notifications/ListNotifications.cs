using Microsoft.EntityFrameworkCore;

namespace OrderEvents.Features.Notifications;

public static class ListNotificationsEndpoint
{
    /// <summary>
    /// My notifications, newest first (ties by id, so pages never overlap). The count and the page's ids read only the
    /// index on (user_id, created_at desc, id desc); then only the page's rows are read.
    /// </summary>
    [WolverineGet("/api/notifications")]
    [NonTransactional]
    public static async Task<Page<NotificationResponse>> Get(ClaimsPrincipal user, NotificationsDbContext db, int? page, int? pageSize, CancellationToken cancellationToken)
    {
        var userId = user.UserId();
        var paging = Paging.From(page, pageSize);
        var mine = db.Notifications.AsNoTracking().Where(notification => notification.UserId == userId);
        var total = await mine.LongCountAsync(cancellationToken);
        // Written inside the lambda so EF Core sends offset and limit as parameters: one prepared statement for all pages.
        var (skip, take) = (paging.Skip, paging.PageSize);
        var items = await db.Notifications.AsNoTracking()
            .Where(notification => mine
                .OrderByDescending(mineFirst => mineFirst.CreatedAt).ThenByDescending(mineFirst => mineFirst.Id)
                .Skip(skip).Take(take)
                .Select(onPage => onPage.Id)
                .Contains(notification.Id))
            .OrderByDescending(notification => notification.CreatedAt).ThenByDescending(notification => notification.Id)
            .Select(notification => NotificationResponse.From(notification))
            .ToListAsync(cancellationToken);
        return new Page<NotificationResponse>(items, paging.Page, paging.PageSize, total);
    }
}
