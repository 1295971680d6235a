using System.Globalization;
using OrderEvents.Features.Orders;

namespace OrderEvents.Features.Notifications;

/// <summary>
/// A message for a user about one order event (EF Core entity, table notifications.notifications). Its id is the
/// event's id, the table's primary key: however often an event is delivered (Kafka redelivery, replay, a producer
/// sending it twice) it yields one notification, forever.
/// </summary>
public sealed class Notification
{
    public Guid Id { get; set; }
    public long UserId { get; set; }
    public string Type { get; set; } = "";
    public string Message { get; set; } = "";
    public long OrderId { get; set; }
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>
    /// Where this notification sits in its user's stream: assigned by the database when the row is stored, increasing
    /// in commit order per user (see the AddNotificationPosition migration), so it is the SSE id a client resumes from.
    /// </summary>
    public long Position { get; set; }

    /// <summary>
    /// The event's version in its order's stream (null for a record that came without one). Per order, notifications
    /// are stored in version order: a version never gets a notification before the versions below it (see
    /// <see cref="NotifyUsersHandler"/>).
    /// </summary>
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
