using System.Security.Claims;
using System.Text.Json;
using Microsoft.Extensions.Options;
using OrderEvents.Infrastructure.Auth;
using OrderEvents.Infrastructure.Http;

namespace OrderEvents.DevHost.Flow;

public static class RecordStreamEndpoint
{
    private static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(15);

    /// <summary>
    /// GET /flow/records: the records published to `order-events` from now on, as Server-Sent Events (`event: record`,
    /// `data:` a <see cref="TappedRecord"/>): the signed-in user's own, or every record for an admin. A `: ready`
    /// comment says the tap reads every partition; every record published after it is delivered.
    /// </summary>
    public static async Task Get(HttpContext context, ClaimsPrincipal user, IServiceProvider services,
        IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json)
    {
        if (services.GetService<RecordTap>() is not { } tap)
        {
            await TypedResults.Problem(Validation.Conflict(
                "Kafka is disabled (KAFKA_ENABLED=false): events travel on a local durable queue, there are no records to show.")).ExecuteAsync(context);
            return;
        }

        var aborted = context.RequestAborted;
        var response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        try
        {
            // While the broker is unreachable the tap cannot find the partitions' ends yet: the page shows "connecting".
            await response.WriteAsync(": connecting\n\n", aborted);
            await response.Body.FlushAsync(aborted);
            using var subscription = await tap.SubscribeAsync(user.UserId(), user.IsInRole(AuthSetup.AdminRole), aborted);
            await response.WriteAsync(": ready\n\n", aborted);
            await response.Body.FlushAsync(aborted);

            var records = subscription.Records;
            while (!aborted.IsCancellationRequested)
            {
                using var idle = CancellationTokenSource.CreateLinkedTokenSource(aborted);
                idle.CancelAfter(Heartbeat);
                bool more;
                try
                {
                    more = await records.WaitToReadAsync(idle.Token);
                }
                catch (OperationCanceledException) when (!aborted.IsCancellationRequested)
                {
                    await response.WriteAsync(": heartbeat\n\n", aborted);
                    await response.Body.FlushAsync(aborted);
                    continue;
                }

                if (!more) return;
                while (records.TryRead(out var record))
                {
                    var data = JsonSerializer.Serialize(record, json.Value.SerializerOptions);
                    await response.WriteAsync($"event: record\ndata: {data}\n\n", aborted);
                }
                await response.Body.FlushAsync(aborted);
            }
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // The page went away.
        }
    }
}
