using Wolverine.Runtime;

namespace OrderEvents.DevHost.Flow;

/// <summary>
/// What is on its way right now: events committed but not yet acknowledged by Kafka (Wolverine's outbox), events
/// received but not yet turned into notifications (its inbox), and whether the broker is taken down on purpose.
/// </summary>
public sealed record PipelineState(long Outbox, long Inbox, BrokerState Broker);

public sealed record BrokerState(bool Down, DateTimeOffset? UpAt);

public static class PipelineEndpoint
{
    /// <summary>GET /flow/pipeline, polled by the page twice a second: Wolverine's own counts of its envelope tables.</summary>
    public static async Task<PipelineState> Get(IWolverineRuntime runtime, IServiceProvider services)
    {
        var counts = await runtime.Storage.Admin.FetchCountsAsync();
        var outage = services.GetService<BrokerOutage>();
        return new PipelineState(counts.Outgoing, counts.Incoming, new BrokerState(outage?.UpAt is not null, outage?.UpAt));
    }
}
