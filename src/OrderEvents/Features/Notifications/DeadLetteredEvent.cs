namespace OrderEvents.Features.Notifications;

/// <summary>An event whose notification PostgreSQL refused, dead-lettered: a later event's fill-in skips it, not to refuse again.</summary>
public sealed class DeadLetteredEvent
{
    public Guid EventId { get; set; }
    public long OrderId { get; set; }
    public long UserId { get; set; }
    public long? Version { get; set; }
    public string EventType { get; set; } = "";
    public string SqlState { get; set; } = "";
    public string? ConstraintName { get; set; }
    public string Message { get; set; } = "";
    public DateTimeOffset DeadLetteredAt { get; set; }
}
