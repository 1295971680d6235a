namespace OrderEvents.Features.Notifications;

/// <summary>
/// An event whose notification PostgreSQL refused on its own, dead-lettered (NotifyUsersHandler). For its order it
/// counts as handled: the fill-in of a later event's predecessors skips it instead of bringing the refusal back.
/// </summary>
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
