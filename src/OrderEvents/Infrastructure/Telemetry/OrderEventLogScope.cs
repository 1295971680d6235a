using OrderEvents.Features.Orders;

namespace OrderEvents.Infrastructure.Telemetry;

/// <summary>
/// Wolverine middleware: every log line written while an order event is handled carries its orderId and eventId
/// (the trace and span ids come from the logger's activity tracking).
/// </summary>
public static class OrderEventLogScope
{
    public static IDisposable? Before(OrderEvent orderEvent, ILogger logger) =>
        logger.BeginScope(new Dictionary<string, object>
        {
            ["orderId"] = orderEvent.OrderId,
            ["eventId"] = orderEvent.EventId,
        });
}
