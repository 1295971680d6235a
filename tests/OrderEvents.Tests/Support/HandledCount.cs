using System.Collections.Concurrent;
using Wolverine.Tracking;

namespace OrderEvents.Tests.Support;

/// <summary>
/// Completes once the handler of <typeparamref name="T"/> has succeeded <paramref name="count"/> times (failed
/// attempts and dead-lettered records do not count). Unlike WaitForExecutionOf it counts executions (with
/// <c>countDiscarded</c>, also deliveries dropped as already handled), not distinct envelope ids: a record produced
/// twice by a non-Wolverine client is, by design, the same envelope id both times (RecordIdentityMapper). With
/// <c>distinctBy</c> it counts distinct messages instead (a redelivery after a broker outage does not count twice).
/// </summary>
public sealed class HandledCount<T>(int count, bool countDiscarded = false, Func<T, object>? distinctBy = null) : ITrackedCondition
{
    private readonly ConcurrentDictionary<object, bool> _distinct = new();
    private int _handled;

    public void Record(EnvelopeRecord record)
    {
        var settled = record.MessageEventType == MessageEventType.MessageSucceeded
                      || (countDiscarded && record.MessageEventType == MessageEventType.Discarded);
        if (!settled || record.Message is not T message) return;
        if (distinctBy is null) Interlocked.Increment(ref _handled);
        else if (_distinct.TryAdd(distinctBy(message), true)) Interlocked.Increment(ref _handled);
    }

    public bool IsCompleted() => Volatile.Read(ref _handled) >= count;

    public override string ToString() => $"{typeof(T).Name} handled {_handled} of {count} times";
}
