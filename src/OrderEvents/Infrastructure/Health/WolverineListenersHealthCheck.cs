using Microsoft.Extensions.Diagnostics.HealthChecks;
using Wolverine.Runtime;
using Wolverine.Transports;

namespace OrderEvents.Infrastructure.Health;

/// <summary>
/// Wolverine's listeners (the Kafka topic listener, the durable local queues) are taking messages. A stopped or
/// latched listener is unhealthy; one paused by an error policy or busy under back pressure resumes on its own, so
/// it only degrades.
/// </summary>
public sealed class WolverineListenersHealthCheck(IWolverineRuntime runtime) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var listeners = runtime.Endpoints.ActiveListeners().ToList();
        var data = listeners.ToDictionary(listener => listener.Uri.ToString(), listener => (object)listener.Status.ToString());
        if (listeners.Count == 0) return Task.FromResult(HealthCheckResult.Unhealthy("No listener is running"));

        var down = listeners.Where(l => l.Status is ListeningStatus.Stopped or ListeningStatus.GloballyLatched).ToList();
        if (down.Count > 0) return Task.FromResult(HealthCheckResult.Unhealthy($"Not listening: {Describe(down)}", data: data));

        var slowed = listeners.Where(l => l.Status is ListeningStatus.Paused or ListeningStatus.TooBusy).ToList();
        if (slowed.Count > 0) return Task.FromResult(HealthCheckResult.Degraded($"Paused or busy: {Describe(slowed)}", data: data));

        return Task.FromResult(HealthCheckResult.Healthy($"{listeners.Count} listener(s) accepting", data));
    }

    private static string Describe(IEnumerable<IListeningAgent> listeners) =>
        string.Join(", ", listeners.Select(l => $"{l.Uri} ({l.Status})"));
}
