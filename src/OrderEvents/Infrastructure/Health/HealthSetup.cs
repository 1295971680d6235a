using Confluent.Kafka;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Wolverine.Kafka.Internals;
using Wolverine.Transports;

namespace OrderEvents.Infrastructure.Health;

public static class HealthSetup
{
    // Checks that gate /health/ready; /health/live runs none (it only proves the process answers).
    private const string ReadinessTag = "ready";

    private static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(3);

    public static WebApplicationBuilder AddHealth(this WebApplicationBuilder builder)
    {
        var checks = builder.Services.AddHealthChecks()
            .AddNpgSql(sp => sp.GetRequiredService<PostgresConnection>().ConnectionString,
                name: "postgresql", tags: [ReadinessTag], timeout: CheckTimeout)
            .AddCheck<WolverineListenersHealthCheck>("wolverine-listeners", tags: [ReadinessTag]);
        if (KafkaSettings.From(builder.Configuration).Enabled)
        {
            builder.Services.AddSingleton<KafkaHealthCheck>();
            checks.AddCheck<KafkaHealthCheck>("kafka", tags: [ReadinessTag], timeout: CheckTimeout);
        }

        return builder;
    }

    /// <summary>Anonymous, JSON, 503 when a check is unhealthy (the framework's default status mapping).</summary>
    public static WebApplication MapHealthEndpoints(this WebApplication app)
    {
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteReport }).AllowAnonymous();
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = check => check.Tags.Contains(ReadinessTag), ResponseWriter = WriteReport })
            .AllowAnonymous();
        return app;
    }

    private static readonly JsonSerializerOptions ReportJson = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    /// <summary>The report as JSON, without exceptions: driver messages can name hosts and users.</summary>
    private static Task WriteReport(HttpContext context, HealthReport report)
    {
        context.Response.Headers.CacheControl = "no-store";
        var body = new
        {
            status = report.Status.ToString(),
            totalDurationMs = Math.Round(report.TotalDuration.TotalMilliseconds, 1),
            checks = report.Entries.ToDictionary(
                entry => entry.Key,
                entry => new
                {
                    status = entry.Value.Status.ToString(),
                    durationMs = Math.Round(entry.Value.Duration.TotalMilliseconds, 1),
                    description = entry.Value.Description ?? DescribeFailure(entry.Value),
                    data = entry.Value.Data.Count == 0 ? null : entry.Value.Data,
                }),
        };
        return context.Response.WriteAsJsonAsync(body, ReportJson);
    }

    // Library checks (NpgSql) report failures through the exception only: name its type, not its text.
    private static string? DescribeFailure(HealthReportEntry entry) => entry.Exception switch
    {
        null => null,
        OperationCanceledException => "Timed out",
        { } exception => $"Failed: {exception.GetType().Name}",
    };
}

/// <summary>
/// Kafka is reachable: a metadata request for the order-events topic answers within a short timeout. Uses the
/// admin-client settings Wolverine's Kafka transport was configured with (brokers, client id, security).
/// </summary>
public sealed class KafkaHealthCheck(IWolverineRuntime runtime) : IHealthCheck, IDisposable
{
    public static readonly TimeSpan MetadataTimeout = TimeSpan.FromSeconds(2);

    private readonly Lazy<IAdminClient> _admin = new(() =>
        new AdminClientBuilder(runtime.Options.Transports.GetOrCreate<KafkaTransport>().AdminClientConfig).Build());

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        // GetMetadata blocks its thread for up to the timeout.
        Task.Run(() =>
        {
            try
            {
                var metadata = _admin.Value.GetMetadata(KafkaSettings.OrderEventsTopic, MetadataTimeout);
                var topic = metadata.Topics.SingleOrDefault(t => t.Topic == KafkaSettings.OrderEventsTopic);
                var data = new Dictionary<string, object> { ["brokers"] = metadata.Brokers.Count };
                if (topic is null || topic.Error.IsError)
                    return HealthCheckResult.Unhealthy($"Topic {KafkaSettings.OrderEventsTopic} is not available: {topic?.Error.Reason ?? "missing"}", data: data);
                data["partitions"] = topic.Partitions.Count;
                return HealthCheckResult.Healthy(
                    $"{KafkaSettings.OrderEventsTopic}: {topic.Partitions.Count} partitions on {metadata.Brokers.Count} broker(s)", data);
            }
            catch (KafkaException e)
            {
                return HealthCheckResult.Unhealthy($"No metadata from Kafka within {MetadataTimeout.TotalSeconds:0.#} s ({e.Error.Code})");
            }
        }, cancellationToken);

    public void Dispose()
    {
        if (_admin.IsValueCreated) _admin.Value.Dispose();
    }
}

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
