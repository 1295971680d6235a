using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Security.Claims;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http.HttpResults;
using OrderEvents.Infrastructure.Auth;
using OrderEvents.Infrastructure.Http;

namespace OrderEvents.DevHost.Flow;

public static class RecordStreamEndpoint
{
    private static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(15);

    /// <summary>
    /// GET /flow/records: the records published to `order-events` from now on, as Server-Sent Events (`event: record`,
    /// `data:` a <see cref="TappedRecord"/>): the signed-in user's own, or every record for an admin. A `ready` event
    /// says the tap reads every partition; every record published after it is delivered.
    /// </summary>
    public static Results<ServerSentEventsResult<TappedRecord?>, ProblemHttpResult> Get(ClaimsPrincipal user, IServiceProvider services, HttpContext context) =>
        services.GetService<RecordTap>() is not { } tap
            ? TypedResults.Problem(Validation.Conflict(
                "Kafka is disabled (KAFKA_ENABLED=false): events travel on a local durable queue, there are no records to show."))
            : TypedResults.ServerSentEvents(Events(tap, user.UserId(), user.IsInRole(AuthSetup.AdminRole), context.RequestAborted));

    private static async IAsyncEnumerable<SseItem<TappedRecord?>> Events(RecordTap tap, long userId, bool isAdmin, [EnumeratorCancellation] CancellationToken aborted)
    {
        // While the broker is unreachable the tap cannot find the partitions' ends yet: the page shows "connecting".
        yield return new SseItem<TappedRecord?>(null, "connecting");
        using var subscription = await tap.SubscribeAsync(userId, isAdmin, aborted);
        yield return new SseItem<TappedRecord?>(null, "ready");
        while (!aborted.IsCancellationRequested)
        {
            switch (await MoreWithin(subscription.Records, Heartbeat, aborted))
            {
                case null:
                    yield return new SseItem<TappedRecord?>(null, "heartbeat");
                    continue;
                case false:
                    yield break;
            }

            while (subscription.Records.TryRead(out var record)) yield return new SseItem<TappedRecord?>(record, "record");
        }
    }

    /// <summary>Whether records are waiting (false: the subscription ended), or null when none came within <paramref name="idle"/>.</summary>
    private static async Task<bool?> MoreWithin(ChannelReader<TappedRecord> records, TimeSpan idle, CancellationToken aborted)
    {
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        timer.CancelAfter(idle);
        try
        {
            return await records.WaitToReadAsync(timer.Token);
        }
        catch (OperationCanceledException) when (!aborted.IsCancellationRequested)
        {
            return null;
        }
    }
}
