using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using OrderEvents.Infrastructure.Telemetry;
using OrderEvents.Tests.Orders;
using OrderEvents.Tests.Support;
using static OrderEvents.Tests.Orders.OrderScenarios;

namespace OrderEvents.Tests.Operations;

[Collection(AppCollection.Name)]
public sealed class MetricsTests(AppFixture fixture) : IntegrationContext(fixture)
{
    [Fact]
    public async Task placing_an_order_counts_it_and_records_its_notification_and_event_lag()
    {
        var user = await RegisterAndLogin();
        var measurements = new ConcurrentQueue<(string Instrument, double Value, string? EventType)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == OrderEventsMetrics.MeterName) l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => measurements.Enqueue((instrument.Name, value, EventType(tags))));
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => measurements.Enqueue((instrument.Name, value, EventType(tags))));
        listener.Start();

        await TrackedHttpCall(s =>
        {
            s.PlaceOrder(user, Items((1, 2)));
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });

        var seen = measurements.ToList();
        seen.SingleMeasurement(m => m.Instrument == "orderevents.orders.placed").Value.ShouldBe(1);
        var stored = seen.SingleMeasurement(m => m.Instrument == "orderevents.notifications.stored");
        stored.Value.ShouldBe(1);
        stored.EventType.ShouldBe("ORDER_CREATED");
        var lag = seen.SingleMeasurement(m => m.Instrument == "orderevents.event.lag");
        lag.EventType.ShouldBe("ORDER_CREATED");
        lag.Value.ShouldBeInRange(0, TrackingTimeout.TotalSeconds); // seconds from the event's timestamp to the insert
    }

    [Fact]
    public async Task the_exporter_receives_aspnetcore_runtime_npgsql_wolverine_and_service_metrics()
    {
        var user = await RegisterAndLogin();
        await TrackedHttpCall(s =>
        {
            s.PlaceOrder(user, Items((1, 1)));
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });

        var names = Fixture.Telemetry.FlushMetricNames(Host.Services);

        names.ShouldContain("http.server.request.duration");      // ASP.NET Core
        names.ShouldContain(name => name.StartsWith("dotnet.gc."));  // runtime
        names.ShouldContain(name => name.StartsWith("db.client."));  // Npgsql
        names.ShouldContain("wolverine-messages-succeeded");        // Wolverine ("Wolverine:OrderEvents")
        names.ShouldContain("orderevents.orders.placed");
        names.ShouldContain("orderevents.notifications.stored");
        names.ShouldContain("orderevents.event.lag");
        // Not exported with nowhere to send them (no OTLP endpoint): unpolled they would read 0 (PersistenceMetricsTests).
        names.ShouldNotContain(name => TelemetrySetup.PersistenceGauges.Contains(name));
    }

    private static string? EventType(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        foreach (var tag in tags)
            if (tag.Key == "event.type") return tag.Value as string;
        return null;
    }
}

internal static class MeasurementAssertions
{
    public static T SingleMeasurement<T>(this IEnumerable<T> items, Func<T, bool> match)
    {
        var found = items.Where(match).ToList();
        found.Count.ShouldBe(1, $"in: {string.Join(", ", items)}");
        return found[0];
    }
}
