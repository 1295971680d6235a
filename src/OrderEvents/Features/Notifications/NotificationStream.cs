using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OrderEvents.Infrastructure.Auth;
using Wolverine.Attributes;
using Wolverine.Http;

namespace OrderEvents.Features.Notifications;

public sealed class NotificationStreamSettings
{
    public const string Section = "Notifications:Stream";

    /// <summary>How often an idle stream sends a comment line (keeps proxies from closing it) and re-reads the table.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan Heartbeat { get; set; } = TimeSpan.FromSeconds(15);
}

public static class NotificationStreamEndpoint
{
    private const int BatchSize = 100;

    /// <summary>
    /// My notifications as they are stored, as Server-Sent Events. Each event's `id:` is the notification's position
    /// in my stream (not the notification id, which is in the data): send it back as `Last-Event-ID` to resume
    /// strictly after it, with no gap and no repeat. Without it the stream starts with the next notification stored.
    /// </summary>
    [WolverineGet("/api/notifications/stream")]
    [NonTransactional]
    [Produces("text/event-stream")]
    [ProducesResponseType(typeof(NotificationResponse), StatusCodes.Status200OK, "text/event-stream")]
    [ProducesResponseType<ProblemDetails>(StatusCodes.Status400BadRequest, "application/problem+json")]
    public static async Task Get(
        HttpContext context, ClaimsPrincipal user, NotificationsDbContext db, NotificationSignals signals,
        IOptions<NotificationStreamSettings> options, IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json)
    {
        var userId = user.UserId();
        var aborted = context.RequestAborted;
        long? lastEventId = null;
        if (context.Request.Headers["Last-Event-ID"] is { Count: > 0 } header && !string.IsNullOrWhiteSpace(header.ToString()))
        {
            if (!long.TryParse(header.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
            {
                await Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid Last-Event-ID",
                    detail: "Last-Event-ID must be the id of an event this stream sent (a non-negative integer)").ExecuteAsync(context);
                return;
            }
            lastEventId = parsed;
        }

        // Subscribe before choosing the start, so a notification committed in between still wakes this stream.
        using var subscription = signals.Subscribe(userId);
        var mine = db.Notifications.AsNoTracking().Where(n => n.UserId == userId);
        try
        {
            var after = lastEventId ?? await mine.MaxAsync(n => (long?)n.Position, aborted) ?? 0;

            context.Response.ContentType = "text/event-stream";
            context.Response.Headers.CacheControl = "no-cache";
            context.Response.Headers["X-Accel-Buffering"] = "no";
            await context.Response.WriteAsync(": ready\n\n", aborted);
            await context.Response.Body.FlushAsync(aborted);

            while (!aborted.IsCancellationRequested)
            {
                var batch = await mine.Where(n => n.Position > after).OrderBy(n => n.Position).Take(BatchSize).ToListAsync(aborted);
                foreach (var notification in batch)
                {
                    var data = JsonSerializer.Serialize(NotificationResponse.From(notification), json.Value.SerializerOptions);
                    await context.Response.WriteAsync($"id: {notification.Position}\nevent: notification\ndata: {data}\n\n", aborted);
                    after = notification.Position;
                }
                if (batch.Count > 0) await context.Response.Body.FlushAsync(aborted);
                if (batch.Count == BatchSize) continue;

                // Signalled: read again. Idle for a heartbeat: say so, and read again anyway (a missed signal).
                if (!await subscription.WaitAsync(options.Value.Heartbeat, aborted))
                {
                    await context.Response.WriteAsync(": heartbeat\n\n", aborted);
                    await context.Response.Body.FlushAsync(aborted);
                }
            }
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // The client went away: nothing to clean up beyond the subscription.
        }
    }
}
