using System.Diagnostics.Metrics;
using JasperFx.Core;
using Microsoft.AspNetCore.Hosting;
using OrderEvents.Features.Orders;
using OrderEvents.Infrastructure.Telemetry;
using OrderEvents.Tests.Support;
using Wolverine;

namespace OrderEvents.Tests.Operations;

/// <summary>The app as it runs when metrics are exported: Wolverine's envelope gauges polled once per export interval (100 ms here).</summary>
public sealed class ExportedPersistenceMetricsAppFixture : AppFixture
{
    protected override bool KafkaEnabled => false;

    protected override void Configure(IWebHostBuilder builder)
    {
        builder.UseSetting("Telemetry:PersistenceMetrics", "true");
        builder.UseSetting("OTEL_METRIC_EXPORT_INTERVAL", "100");
    }
}

/// <summary>
/// Wolverine's inbox/outbox/scheduled gauges cost a count over the envelope tables per poll (docs/benchmarks.md, issue
/// 23), so the poll runs only where metrics leave the process; there the gauges report the tables' real counts.
/// </summary>
public sealed class PersistenceMetricsTests(ExportedPersistenceMetricsAppFixture fixture) : IClassFixture<ExportedPersistenceMetricsAppFixture>
{
    [Fact]
    public async Task where_metrics_are_exported_the_scheduled_gauge_counts_the_scheduled_envelopes()
    {
        var bus = fixture.Host.MessageBus();
        var scheduled = ScheduledCount();
        scheduled.ShouldBeGreaterThanOrEqualTo(0, "Wolverine's scheduled-envelope gauge is not published");
        await bus.ScheduleAsync(new OrderEvent(Guid.NewGuid(), OrderEventTypes.Created, DateTimeOffset.UtcNow, 1, 1, 1m), 1.Hours());

        var deadline = DateTime.UtcNow + 30.Seconds();
        while (ScheduledCount() <= scheduled && DateTime.UtcNow < deadline) await Task.Delay(50);

        ScheduledCount().ShouldBe(scheduled + 1);
        fixture.Telemetry.FlushMetricNames(fixture.Host.Services).ShouldContain("wolverine-scheduled-count");
    }

    /// <summary>The last value Wolverine's scheduled-envelope gauge reports.</summary>
    private static int ScheduledCount()
    {
        var value = -1;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name.StartsWith(TelemetrySetup.WolverineSource + ":") && instrument.Name == "wolverine-scheduled-count")
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<int>((_, measurement, _, _) => value = Math.Max(value, measurement));
        listener.Start();
        listener.RecordObservableInstruments();
        return value;
    }
}
