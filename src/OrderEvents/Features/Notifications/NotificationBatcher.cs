using System.Runtime.CompilerServices;
using Wolverine.Runtime.Batching;

namespace OrderEvents.Features.Notifications;

/// <summary>
/// Wolverine's default batching (one batch per flush) that keeps the batch's records for its handler: their trace
/// contexts, and where a refused one goes. Wolverine 6.62 keeps them in the internal <c>Envelope.Batch</c>
/// (<c>IBatchContext</c> gives only ids), so they are attached to the array the handler receives.
/// </summary>
public sealed class NotificationBatcher : IMessageBatcher
{
    private static readonly ConditionalWeakTable<OrderEvent[], IReadOnlyList<Envelope>> Members = new();

    public Type BatchMessageType => typeof(OrderEvent[]);

    public IEnumerable<Envelope> Group(IReadOnlyList<Envelope> envelopes)
    {
        var members = envelopes.Where(envelope => envelope.Message is OrderEvent).ToList();
        var events = members.Select(envelope => (OrderEvent)envelope.Message!).ToArray();
        Members.AddOrUpdate(events, members);
        // Every envelope is settled with the batch, as with Wolverine's batcher.
        yield return new Envelope(events, envelopes);
    }

    /// <summary>The member envelopes of a batch this batcher built, in the order of its events; empty for any other array.</summary>
    public static IReadOnlyList<Envelope> MembersOf(OrderEvent[] batch) => Members.TryGetValue(batch, out var members) ? members : [];
}
