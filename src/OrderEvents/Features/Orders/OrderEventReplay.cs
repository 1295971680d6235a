using JasperFx.Events;
using Marten;

namespace OrderEvents.Features.Orders;

/// <summary>Which logged events to publish again: all, one order's, or those stored since a time.</summary>
public sealed record ReplayFilter(long? OrderId = null, DateTimeOffset? Since = null);

/// <summary>
/// Publishes logged order events again, in log order, through the durable outbox and with their stored ids: a consumer
/// that handled one ignores it (the notification's key is the event id); a new or repaired consumer gets the history.
/// </summary>
public sealed class OrderEventReplay(IDocumentStore store, IWolverineRuntime runtime, ILogger<OrderEventReplay> logger)
{
    private const int PageSize = 500;

    /// <param name="skip">Given a page of event ids, the ones not to publish (e.g. those already handled).</param>
    /// <returns>How many events were published.</returns>
    public async Task<int> ReplayAsync(
        ReplayFilter filter, Func<IReadOnlyCollection<Guid>, CancellationToken, Task<IReadOnlySet<Guid>>>? skip, CancellationToken cancellationToken)
    {
        var published = 0;
        long after = 0;
        while (true)
        {
            await using var session = store.LightweightSession();

            var page = await PageOf(session, filter, after, cancellationToken);
            if (page.Count == 0) return published;
            after = page[^1].Sequence;

            var skipped = skip is null ? new HashSet<Guid>() : await skip(page.Select(e => e.Id).ToList(), cancellationToken);
            var toPublish = page.Where(e => !skipped.Contains(e.Id)).ToList();
            if (toPublish.Count == 0) continue;

            var orders = (await session.LoadManyAsync<Order>(cancellationToken, toPublish.Select(e => e.StreamKey!).Distinct()))
                .ToDictionary(order => order.StreamKey);
            // One transaction per page: the outbox rows commit together, then Wolverine sends them.
            var outbox = new MartenOutbox(runtime, session);
            foreach (var stored in toPublish)
            {
                if (!orders.TryGetValue(stored.StreamKey!, out var order)) continue;
                await outbox.PublishAsync(OrderEvent.For(order, (IOrderEvent)stored.Data, stored.Id, stored.Version));
                published++;
            }

            await session.SaveChangesAsync(cancellationToken);
            logger.LogInformation("Replayed {Count} order events from the log (up to sequence {Sequence})", published, after);
        }
    }

    private static async Task<IReadOnlyList<IEvent>> PageOf(IQuerySession session, ReplayFilter filter, long after, CancellationToken cancellationToken)
    {
        var query = session.Events.QueryAllRawEvents().Where(e => e.Sequence > after);
        if (filter.OrderId is { } orderId)
        {
            var key = Order.StreamKeyOf(orderId);
            query = query.Where(e => e.StreamKey == key);
        }

        if (filter.Since is { } since) query = query.Where(e => e.Timestamp >= since);
        var page = await query.OrderBy(e => e.Sequence).Take(PageSize).ToListAsync(cancellationToken);
        return page.Where(e => e.Data is IOrderEvent).ToList();
    }
}
