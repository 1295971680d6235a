using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace OrderEvents.Infrastructure.Telemetry;

/// <summary>The service's own instruments (meter "OrderEvents"), exported beside ASP.NET Core, runtime, Npgsql and Wolverine.</summary>
public static class OrderEventsMetrics
{
    public const string MeterName = "OrderEvents";

    private static readonly Meter Meter = new(MeterName, typeof(OrderEventsMetrics).Assembly.GetName().Version?.ToString());

    public static readonly Counter<long> OrdersPlaced = Meter.CreateCounter<long>(
        "orderevents.orders.placed", "{order}", "Orders accepted by POST /api/orders.");

    public static readonly Counter<long> NotificationsStored = Meter.CreateCounter<long>(
        "orderevents.notifications.stored", "{notification}", "Notifications written for order events, by event type.");

    public static readonly Histogram<double> EventLag = Meter.CreateHistogram(
        "orderevents.event.lag", "s", "From an order event's timestamp to its notification being stored, by event type.",
        tags: null,
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600] });

    /// <summary>Counts the order and tags the current span (the HTTP request) with its id.</summary>
    public static void OrderPlaced(long orderId)
    {
        OrdersPlaced.Add(1);
        Activity.Current?.SetTag("order.id", orderId);
    }

    /// <summary>Counts the notification and records how long its event took to get here (clock skew clamps to 0).</summary>
    public static void NotificationStored(string eventType, DateTimeOffset eventTimestamp, DateTimeOffset storedAt)
    {
        var type = new KeyValuePair<string, object?>("event.type", eventType);
        NotificationsStored.Add(1, type);
        EventLag.Record(Math.Max(0, (storedAt - eventTimestamp).TotalSeconds), type);
    }
}
