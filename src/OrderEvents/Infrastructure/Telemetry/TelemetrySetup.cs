using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace OrderEvents.Infrastructure.Telemetry;

public static class TelemetrySetup
{
    /// <summary>Wolverine's ActivitySource; its Meter is "Wolverine:" + the Wolverine service name.</summary>
    public const string WolverineSource = "Wolverine";

    /// <summary>OpenTelemetry traces, metrics and logs, exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set.</summary>
    public static WebApplicationBuilder AddTelemetry(this WebApplicationBuilder builder)
    {
        // Every log line knows its trace: the ids go into the logging scope (shown where IncludeScopes is on).
        builder.Logging.Configure(logging => logging.ActivityTrackingOptions =
            ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId | ActivityTrackingOptions.ParentId);

        var otlp = !string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        // Wolverine's envelope gauges count every row of its tables, costly after a burst (docs/operations.md#exporting):
        // polled once per export when metrics leave the process, else not exported (unpolled, they would report 0).
        var persistenceMetrics = builder.Configuration.GetValue("Telemetry:PersistenceMetrics", otlp);
        builder.Services.ConfigureWolverine(opts =>
        {
            opts.Durability.DurabilityMetricsEnabled = persistenceMetrics;
            if (persistenceMetrics) opts.Durability.UpdateMetricsPeriod = MetricExportInterval(builder.Configuration);
        });
        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(builder.Configuration["OTEL_SERVICE_NAME"] ?? "order-events"));
        // Spans cost CPU on every request, query and message: with nowhere to send them, none unless Telemetry:Traces asks.
        if (builder.Configuration.GetValue("Telemetry:Traces", otlp)) telemetry
            .WithTracing(tracing => tracing
                .SetSampler(new ParentBasedSampler(new SkipBackgroundDatabaseSpans()))
                // Probes poll /health every few seconds: keep them out of the traces.
                .AddAspNetCoreInstrumentation(options => options.Filter = http => !http.Request.Path.StartsWithSegments("/health"))
                .AddNpgsql()
                .AddSource(WolverineSource));
        telemetry
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddRuntimeInstrumentation()
                .AddNpgsqlInstrumentation()
                .AddMeter(WolverineSource + ":*")
                .AddMeter(OrderEventsMetrics.MeterName)
                .AddView(instrument => !persistenceMetrics && PersistenceGauges.Contains(instrument.Name) ? MetricStreamConfiguration.Drop : null))
            .WithLogging(configureBuilder: null, configureOptions: options =>
            {
                options.IncludeScopes = true;
                options.IncludeFormattedMessage = true;
            });
        if (otlp) telemetry.UseOtlpExporter();

        return builder;
    }

    /// <summary>Wolverine's gauges of the envelope tables (Wolverine.Persistence.PersistenceMetrics).</summary>
    public static readonly IReadOnlySet<string> PersistenceGauges =
        new HashSet<string> { "wolverine-inbox-count", "wolverine-outbox-count", "wolverine-scheduled-count" };

    /// <summary>OTEL_METRIC_EXPORT_INTERVAL (ms), the OpenTelemetry SDK's default of 60 s when unset or not positive.</summary>
    private static TimeSpan MetricExportInterval(IConfiguration configuration) =>
        TimeSpan.FromMilliseconds(configuration.GetValue("OTEL_METRIC_EXPORT_INTERVAL", 60_000) is > 0 and var ms ? ms : 60_000);

    /// <summary>
    /// Root sampler: a database call outside any request or message (Wolverine's polling, Marten's daemon: several a
    /// second) would each be a trace of its own, drowning the real ones. Children follow their parent (ParentBasedSampler).
    /// </summary>
    private sealed class SkipBackgroundDatabaseSpans : Sampler
    {
        public override SamplingResult ShouldSample(in SamplingParameters samplingParameters) =>
            new(samplingParameters.Kind == ActivityKind.Client ? SamplingDecision.Drop : SamplingDecision.RecordAndSample);
    }
}
