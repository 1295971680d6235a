using System.Security.Claims;
using Marten;
using OrderEvents.Infrastructure.Auth;
using OrderEvents.Infrastructure.Http;
using Wolverine.Http;

namespace OrderEvents.Features.Notifications;

public static class ListNotificationsEndpoint
{
    [WolverineGet("/api/notifications")]
    public static Task<Page<NotificationResponse>> Get(ClaimsPrincipal user, IQuerySession session, int? page, int? pageSize, CancellationToken cancellationToken)
    {
        var userId = user.UserId();
        return session.Query<Notification>()
            .Where(notification => notification.UserId == userId)
            .OrderByDescending(notification => notification.CreatedAt)
            .ToPageAsync(page, pageSize, NotificationResponse.From, cancellationToken);
    }
}
