namespace OrderEvents.Features.Notifications;

/// <summary>
/// An order event whose notification PostgreSQL refused on its own (table notifications.dead_lettered_events): its
/// record went to the dead-letter queue (order-events.dlq, or Wolverine's dead-letter storage when Kafka is off) in the
/// transaction that stored the rest of its batch. For its order it counts as handled: the fill-in of missing
/// predecessors (NotifyUsersHandler) skips it, so a later event of the order is stored without bringing the failure
/// back. The row stays after a re-drive stored the notification (then both exist); a second refusal updates it.
/// </summary>
public sealed class DeadLetteredEvent
{
    public Guid EventId { get; set; }
    public long OrderId { get; set; }
    public long UserId { get; set; }
    public long? Version { get; set; }
    public string EventType { get; set; } = "";

    /// <summary>What PostgreSQL said: SQLSTATE (e.g. 23514), the constraint when it names one, and its message.</summary>
    public string SqlState { get; set; } = "";
    public string? ConstraintName { get; set; }
    public string Message { get; set; } = "";

    public DateTimeOffset DeadLetteredAt { get; set; }
}
