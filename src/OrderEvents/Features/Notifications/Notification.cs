namespace OrderEvents.Features.Notifications;

/// <summary>
/// A message for a user about one order event. Its id is the event's id, the primary key: however often an event is
/// delivered (redelivery, replay, a producer sending it twice) it yields one notification, forever.
/// </summary>
public sealed class Notification
{
    public Guid Id { get; set; }
    public long UserId { get; set; }
    public string Type { get; set; } = "";
    public string Message { get; set; } = "";
    public long OrderId { get; set; }
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>Assigned by the database in commit order per user (AddNotificationPosition): the SSE id a client resumes from.</summary>
    public long Position { get; set; }

    /// <summary>The event's stream version (null on a record without one); per order stored in version order.</summary>
    public long? Version { get; set; }

    /// <summary>The text for an event, or null for an event type this service does not know.</summary>
    public static string? MessageFor(OrderEvent orderEvent) => orderEvent.EventType switch
    {
        OrderEventTypes.Created => $"Your order #{orderEvent.OrderId} has been created. Total: ${Amount(orderEvent.TotalAmount)}",
        OrderEventTypes.Paid => $"Your order #{orderEvent.OrderId} has been paid. Total: ${Amount(orderEvent.TotalAmount)}",
        OrderEventTypes.Cancelled => $"Your order #{orderEvent.OrderId} has been cancelled.",
        _ => null,
    };

    // 15000.00 -> "15000", 12.50 -> "12.5", whatever the culture.
    private static string Amount(decimal amount) => amount.ToString("0.############################", CultureInfo.InvariantCulture);
}

public sealed record NotificationResponse(Guid Id, long UserId, string Type, string Message, long OrderId, Guid EventId, DateTimeOffset CreatedAt)
{
    public static NotificationResponse From(Notification n) => new(n.Id, n.UserId, n.Type, n.Message, n.OrderId, n.Id, n.CreatedAt);
}
