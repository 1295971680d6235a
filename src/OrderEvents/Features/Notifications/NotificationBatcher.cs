using System.Runtime.CompilerServices;
using OrderEvents.Features.Orders;
using Wolverine;
using Wolverine.Runtime.Batching;

namespace OrderEvents.Features.Notifications;

/// <summary>
/// Builds the notification batches as Wolverine's default batcher does (this service has no tenants: one batch per
/// flush), and remembers each batch's member envelopes, the records as they arrived: their trace context (the batch
/// span links to each event's trace) and where they came from (a refused record is dead-lettered where it came from,
/// with its own bytes). Wolverine 6.62 keeps the members in <c>Envelope.Batch</c>, which is internal; the batcher is
/// its public extension point (<see cref="IMessageBatcher"/>), so the members are attached to the batch's message, the
/// array the handler receives, for as long as that array lives.
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
