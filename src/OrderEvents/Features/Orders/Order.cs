using JasperFx;
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
/// The current state of one order: Marten's inline projection of the order's event stream, stored in the same
/// transaction as each event, so reads and paging query a plain document. The stream key is the order number as
/// text ("1042"); the API shows the number. Every change is an event (<see cref="OrderPlaced"/>,
/// <see cref="OrderPaid"/>, <see cref="OrderCancelled"/>); the decisions about which change is allowed live in
/// <see cref="OrderDecisions"/>.
/// </summary>
public sealed record Order
{
    /// <summary>The event stream's key: the order number as text.</summary>
    [Identity]
    public string StreamKey { get; init; } = "";

    public long Id { get; init; }
    public long UserId { get; init; }
    public OrderStatus Status { get; init; }
    public decimal TotalAmount { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
    public IReadOnlyList<OrderItem> Items { get; init; } = [];

    /// <summary>The stream version this state reflects (set by Marten); concurrent writers are checked against it.</summary>
    public int Version { get; set; }

    public static Order Create(OrderPlaced placed) => new()
    {
        StreamKey = StreamKeyOf(placed.OrderId),
        Id = placed.OrderId,
        UserId = placed.UserId,
        Status = OrderStatus.Pending,
        TotalAmount = placed.TotalAmount,
        CreatedAt = placed.At,
        UpdatedAt = placed.At,
        Items = placed.Items,
    };

    public Order Apply(OrderPaid paid) => this with { Status = OrderStatus.Paid, UpdatedAt = paid.At };

    public Order Apply(OrderCancelled cancelled) => this with { Status = OrderStatus.Cancelled, UpdatedAt = cancelled.At };

    public static string StreamKeyOf(long orderId) => orderId.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

public sealed record OrderResponse(
    long Id, long UserId, decimal TotalAmount, OrderStatus Status, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt,
    IReadOnlyList<OrderItem> Items)
{
    public static OrderResponse From(Order order) =>
        new(order.Id, order.UserId, order.TotalAmount, order.Status, order.CreatedAt, order.UpdatedAt, order.Items);
}
