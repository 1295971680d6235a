using OrderEvents.Features.Products;

namespace OrderEvents.Features.Orders;

/// <summary>Serialized as "PENDING" / "PAID" / "CANCELLED".</summary>
public enum OrderStatus
{
    Pending,
    Paid,
    Cancelled,
}

/// <summary>An item with the product's price at the moment the order was placed.</summary>
public sealed record OrderItem(long ProductId, int Quantity, decimal Price);

/// <summary>
/// An order (Marten document, numeric HiLo id, optimistic concurrency). Its only transitions are
/// PENDING -> PAID and PENDING -> CANCELLED.
/// </summary>
public sealed class Order
{
    public long Id { get; set; }
    public long UserId { get; set; }
    public OrderStatus Status { get; set; }
    public decimal TotalAmount { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public List<OrderItem> Items { get; set; } = [];

    public static Order Place(long userId, IEnumerable<(Product Product, int Quantity)> lines, DateTimeOffset now)
    {
        var items = lines.Select(line => new OrderItem(line.Product.Id, line.Quantity, line.Product.Price)).ToList();
        return new Order
        {
            UserId = userId,
            Status = OrderStatus.Pending,
            Items = items,
            TotalAmount = items.Sum(item => item.Price * item.Quantity),
            CreatedAt = now,
            UpdatedAt = now,
        };
    }

    public bool CanMoveTo(OrderStatus next) => Status == OrderStatus.Pending && next is OrderStatus.Paid or OrderStatus.Cancelled;

    /// <summary>A copy in the next status; the caller checked <see cref="CanMoveTo"/>.</summary>
    public Order MovedTo(OrderStatus next, DateTimeOffset now) => new()
    {
        Id = Id, UserId = UserId, Status = next, TotalAmount = TotalAmount, CreatedAt = CreatedAt, UpdatedAt = now, Items = Items,
    };
}

public sealed record OrderResponse(
    long Id, long UserId, decimal TotalAmount, OrderStatus Status, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt,
    IReadOnlyList<OrderItem> Items)
{
    public static OrderResponse From(Order order) =>
        new(order.Id, order.UserId, order.TotalAmount, order.Status, order.CreatedAt, order.UpdatedAt, order.Items);
}
