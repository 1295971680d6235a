using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using Microsoft.EntityFrameworkCore;

namespace OrderEvents.Features.Notifications;

public sealed class NotificationStreamSettings
{
    public const string Section = "Notifications:Stream";

    /// <summary>How often an idle stream sends a heartbeat event (keeps proxies from closing it) and re-reads the table.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan Heartbeat { get; set; } = TimeSpan.FromSeconds(15);
}

public static class NotificationStreamEndpoint
{
    private const int BatchSize = 100;

    /// <summary>
    /// My notifications as they are stored, as Server-Sent Events (`notification`, after a `ready`; `heartbeat` when
    /// idle). Each `id:` is the notification's position in my stream: sent back as `Last-Event-ID` it resumes strictly
    /// after it, with no gap and no repeat; without it the stream starts with the next notification stored.
    /// </summary>
    [WolverineGet("/api/notifications/stream")]
    [NonTransactional]
    [Produces("text/event-stream")]
    [ProducesResponseType(typeof(NotificationResponse), StatusCodes.Status200OK, "text/event-stream")]
    [ProducesResponseType<ProblemDetails>(StatusCodes.Status400BadRequest, "application/problem+json")]
    public static async Task<Results<ServerSentEventsResult<NotificationResponse?>, ProblemHttpResult>> Get(
        HttpContext context, ClaimsPrincipal user, NotificationsDbContext db, NotificationSignals signals, IOptions<NotificationStreamSettings> options)
    {
        long? lastEventId = null;
        if (context.Request.Headers["Last-Event-ID"].ToString() is { } header && !string.IsNullOrWhiteSpace(header))
        {
            if (!long.TryParse(header, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
                return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid Last-Event-ID",
                    detail: "Last-Event-ID must be the id of an event this stream sent (a non-negative integer)");
            lastEventId = parsed;
        }

        var userId = user.UserId();
        var mine = db.Notifications.AsNoTracking().Where(n => n.UserId == userId);
        // The signal is taken before choosing the start, so a notification committed in between still wakes this stream.
        var signal = signals.Next(userId);
        var after = lastEventId ?? await mine.MaxAsync(n => (long?)n.Position, context.RequestAborted) ?? 0;
        return TypedResults.ServerSentEvents(Events(mine, after, signal, () => signals.Next(userId), options.Value.Heartbeat, context.RequestAborted));
    }

    private static async IAsyncEnumerable<SseItem<NotificationResponse?>> Events(
        IQueryable<Notification> mine, long after, Task signal, Func<Task> nextSignal, TimeSpan heartbeat, [EnumeratorCancellation] CancellationToken aborted)
    {
        yield return new SseItem<NotificationResponse?>(null, "ready");
        for (; !aborted.IsCancellationRequested; signal = nextSignal())
        {
            var batch = await mine.Where(n => n.Position > after).OrderBy(n => n.Position).Take(BatchSize).ToListAsync(aborted);
            foreach (var notification in batch)
            {
                after = notification.Position;
                yield return new SseItem<NotificationResponse?>(NotificationResponse.From(notification), "notification")
                {
                    EventId = after.ToString(CultureInfo.InvariantCulture),
                };
            }

            if (batch.Count == BatchSize) continue;
            // Signalled: read again. Idle for a heartbeat: say so, and read again anyway (a missed signal).
            var signalled = await Task.WhenAny(signal, Task.Delay(heartbeat, aborted)) == signal;
            aborted.ThrowIfCancellationRequested();
            if (!signalled) yield return new SseItem<NotificationResponse?>(null, "heartbeat");
        }
    }
}
