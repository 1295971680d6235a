using System.Security.Claims;
using Microsoft.EntityFrameworkCore;
using OrderEvents.Infrastructure.Auth;
using OrderEvents.Infrastructure.Http;
using Wolverine.Http;
using Wolverine.Attributes;

namespace OrderEvents.Features.Notifications;

public static class ListNotificationsEndpoint
{
    /// <summary>My notifications, newest first; the id breaks ties between equal timestamps so pages never overlap.</summary>
    [WolverineGet("/api/notifications")]
    [NonTransactional]
    public static async Task<Page<NotificationResponse>> Get(ClaimsPrincipal user, NotificationsDbContext db, int? page, int? pageSize, CancellationToken cancellationToken)
    {
        var userId = user.UserId();
        var paging = Paging.From(page, pageSize);
        var mine = db.Notifications.AsNoTracking().Where(notification => notification.UserId == userId);
        var total = await mine.LongCountAsync(cancellationToken);
        var items = await mine
            .OrderByDescending(notification => notification.CreatedAt).ThenByDescending(notification => notification.Id)
            .Skip(paging.Skip).Take(paging.PageSize)
            .Select(notification => NotificationResponse.From(notification))
            .ToListAsync(cancellationToken);
        return new Page<NotificationResponse>(items, paging.Page, paging.PageSize, total);
    }
}
