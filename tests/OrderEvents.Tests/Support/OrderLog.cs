using System.Text.Json;
using JasperFx.Events;
using Marten;
using OrderEvents.Features.Orders;

namespace OrderEvents.Tests.Support;

/// <summary>
/// Orders written to the order log directly (as the service does, with its event ids), with nothing published: a test
/// produces their records by hand, in the order it needs.
/// </summary>
public static class OrderLog
{
    /// <summary>Appends an order (ORDER_CREATED, then <paramref name="then"/>) to the log; returns its records in version order.</summary>
    public static async Task<IReadOnlyList<OrderEvent>> AppendAsync(IDocumentStore store, long userId, string then)
    {
        var orderId = 8_000_000 + Random.Shared.Next(1_000_000);
        var at = DateTimeOffset.UtcNow.AddMinutes(-1);
        var key = Order.StreamKeyOf(orderId);
        IOrderEvent next = then == OrderEventTypes.Paid ? new OrderPaid(15000m, at.AddSeconds(1)) : new OrderCancelled(at.AddSeconds(1));
        await using var session = store.LightweightSession();
        session.Events.StartStream<Order>(key,
            new Event<OrderPlaced>(new OrderPlaced(orderId, userId, [new OrderItem(1, 1, 15000m)], 15000m, at)) { Id = Guid.CreateVersion7() },
            next is OrderPaid paid ? new Event<OrderPaid>(paid) { Id = Guid.CreateVersion7() } : new Event<OrderCancelled>((OrderCancelled)next) { Id = Guid.CreateVersion7() });
        await session.SaveChangesAsync();

        var order = (await session.LoadAsync<Order>(key)).ShouldNotBeNull();
        var stream = await session.Events.FetchStreamAsync(key);
        return stream.Select(stored => OrderEvent.For(order, (IOrderEvent)stored.Data, stored.Id, stored.Version)).ToList();
    }

    /// <summary>The record's value as the service writes it (camelCase JSON).</summary>
    public static string Json(OrderEvent record) => JsonSerializer.Serialize(record, JsonSerializerOptions.Web);
}
