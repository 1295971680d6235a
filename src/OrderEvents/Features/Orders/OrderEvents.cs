using OrderEvents.Features.Products;

namespace OrderEvents.Features.Orders;

/// <summary>
/// The events of an order's stream: the permanent, ordered record of what happened to it. Each is stored with the
/// event id that the Kafka record and the notification carry too (see <see cref="OrderDecisions"/>).
/// </summary>
public interface IOrderEvent
{
    DateTimeOffset At { get; }
}

/// <summary>The order was placed: items with their price snapshot and the total computed on the server.</summary>
public sealed record OrderPlaced(long OrderId, long UserId, IReadOnlyList<OrderItem> Items, decimal TotalAmount, DateTimeOffset At) : IOrderEvent
{
    public static OrderPlaced For(long orderId, long userId, IEnumerable<(Product Product, int Quantity)> lines, DateTimeOffset at)
    {
        var items = lines.Select(line => new OrderItem(line.Product.Id, line.Quantity, line.Product.Price)).ToList();
        return new OrderPlaced(orderId, userId, items, items.Sum(item => item.Price * item.Quantity), at);
    }
}

public sealed record OrderPaid(decimal Amount, DateTimeOffset At) : IOrderEvent;

public sealed record OrderCancelled(DateTimeOffset At) : IOrderEvent;
