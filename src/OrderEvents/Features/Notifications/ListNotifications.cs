using System.Security.Claims;
using Marten;
using Marten.Pagination;
using OrderEvents.Infrastructure.Auth;
using OrderEvents.Infrastructure.Http;
using Wolverine.Http;

namespace OrderEvents.Features.Notifications;

public static class ListNotificationsEndpoint
{
    [WolverineGet("/api/notifications")]
    public static async Task<Page<NotificationResponse>> Get(ClaimsPrincipal user, IQuerySession session, int? page, int? pageSize, CancellationToken cancellationToken)
    {
        var paging = Paging.From(page, pageSize);
        var userId = user.UserId();
        var notifications = await session.Query<Notification>()
            .Where(notification => notification.UserId == userId)
            .OrderByDescending(notification => notification.CreatedAt)
            .ToPagedListAsync(paging.Page, paging.PageSize, cancellationToken);
        return Page<NotificationResponse>.From(notifications, NotificationResponse.From);
    }
}
