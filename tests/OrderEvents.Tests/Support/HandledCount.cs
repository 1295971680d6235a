using System.Collections.Concurrent;
using OrderEvents.Features.Orders;
using Wolverine.Tracking;

namespace OrderEvents.Tests.Support;

/// <summary>
/// Notifications are stored in batches (NotifyUsersHandler handles <c>OrderEvent[]</c>): a single OrderEvent "succeeds"
/// as soon as Wolverine adds it to a batch, before anything is stored. Tests therefore count an event as handled when a
/// batch containing it succeeded.
/// </summary>
public static class NotificationBatches
{
    /// <summary>The events a succeeded batch stored (or found already stored).</summary>
    public static IEnumerable<OrderEvent> Stored(EnvelopeRecord record) =>
        record.MessageEventType == MessageEventType.MessageSucceeded && record.Message is OrderEvent[] batch ? batch : [];

    /// <summary>Waits until every order event the session published or received is stored or dead-lettered.</summary>
    public static TrackedSessionConfiguration WaitForNotificationBatches(this TrackedSessionConfiguration session) =>
        session.WaitForCondition(new EveryEventSettled());

    private sealed class EveryEventSettled : ITrackedCondition
    {
        private readonly ConcurrentDictionary<Guid, bool> _pending = new();
        private readonly ConcurrentDictionary<Guid, bool> _settled = new();

        public void Record(EnvelopeRecord record)
        {
            foreach (var stored in Stored(record)) Settle(stored.EventId);
            if (record.Message is not OrderEvent orderEvent) return;
            if (record.MessageEventType is MessageEventType.MovedToErrorQueue or MessageEventType.Discarded) Settle(orderEvent.EventId);
            else if (!_settled.ContainsKey(orderEvent.EventId)) _pending.TryAdd(orderEvent.EventId, true);
        }

        private void Settle(Guid eventId)
        {
            _settled.TryAdd(eventId, true);
            _pending.TryRemove(eventId, out _);
        }

        public bool IsCompleted() => _pending.IsEmpty;

        public override string ToString() => $"order events not yet stored by a notification batch: {string.Join(", ", _pending.Keys)}";
    }
}

/// <summary>
/// Completes once <paramref name="count"/> order events were stored by notification batches (failed attempts and
/// dead-lettered records do not count). It counts stored events, not distinct envelope ids: a record produced twice by
/// a non-Wolverine client is, by design, the same envelope id both times (RecordIdentityMapper). With
/// <c>countDiscarded</c> it also counts deliveries dropped as already received (the durable inbox knows their id). With
/// <c>distinctBy</c> it counts distinct events instead (a redelivery after a broker outage does not count twice).
/// </summary>
public sealed class HandledCount<T>(int count, bool countDiscarded = false, Func<T, object>? distinctBy = null) : ITrackedCondition
{
    private readonly ConcurrentDictionary<object, bool> _distinct = new();
    private int _handled;

    public void Record(EnvelopeRecord record)
    {
        IEnumerable<OrderEvent> handled = NotificationBatches.Stored(record);
        if (countDiscarded && record.MessageEventType == MessageEventType.Discarded && record.Message is OrderEvent dropped) handled = [dropped];
        foreach (var message in handled.OfType<T>())
        {
            if (distinctBy is null) Interlocked.Increment(ref _handled);
            else if (_distinct.TryAdd(distinctBy(message), true)) Interlocked.Increment(ref _handled);
        }
    }

    public bool IsCompleted() => Volatile.Read(ref _handled) >= count;

    public override string ToString() => $"{typeof(T).Name} stored {_handled} of {count} times";
}
