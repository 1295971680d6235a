using Wolverine.Tracking;

namespace OrderEvents.Tests.Support;

/// <summary>
/// Completes once the handler of <typeparamref name="T"/> has succeeded <paramref name="count"/> times (failed
/// attempts and dead-lettered records do not count). Unlike
/// WaitForExecutionOf it counts executions, not distinct envelope ids: a record produced twice by a non-Wolverine
/// client is, by design, the same envelope id both times (RecordIdentityMapper).
/// </summary>
public sealed class HandledCount<T>(int count) : ITrackedCondition
{
    private int _handled;

    public void Record(EnvelopeRecord record)
    {
        if (record.MessageEventType == MessageEventType.MessageSucceeded && record.Message is T) Interlocked.Increment(ref _handled);
    }

    public bool IsCompleted() => Volatile.Read(ref _handled) >= count;

    public override string ToString() => $"{typeof(T).Name} handled {_handled} of {count} times";
}
