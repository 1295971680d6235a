using Microsoft.Extensions.Diagnostics.HealthChecks;
using Wolverine.Runtime;
using Wolverine.Transports;

namespace OrderEvents.Infrastructure.Health;

/// <summary>
/// Wolverine's listeners (the Kafka topic, the durable local queues) are taking messages. A stopped or latched listener
/// is unhealthy; one paused by an error policy or busy under back pressure resumes on its own, so it only degrades.
/// </summary>
public sealed class WolverineListenersHealthCheck(IWolverineRuntime runtime) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var listeners = runtime.Endpoints.ActiveListeners().ToList();
        var data = listeners.ToDictionary(listener => listener.Uri.ToString(), listener => (object)listener.Status.ToString());
        var down = Describe(listeners, ListeningStatus.Stopped, ListeningStatus.GloballyLatched);
        var slowed = Describe(listeners, ListeningStatus.Paused, ListeningStatus.TooBusy);
        return Task.FromResult(
            listeners.Count == 0 ? HealthCheckResult.Unhealthy("No listener is running")
            : down.Length > 0 ? HealthCheckResult.Unhealthy($"Not listening: {down}", data: data)
            : slowed.Length > 0 ? HealthCheckResult.Degraded($"Paused or busy: {slowed}", data: data)
            : HealthCheckResult.Healthy($"{listeners.Count} listener(s) accepting", data));
    }

    private static string Describe(IEnumerable<IListeningAgent> listeners, params ListeningStatus[] statuses) =>
        string.Join(", ", listeners.Where(l => statuses.Contains(l.Status)).Select(l => $"{l.Uri} ({l.Status})"));
}
