using JasperFx;
using JasperFx.Events;
using JasperFx.Events.Projections;
using Marten;
using OrderEvents.Features.Products;

namespace OrderEvents.Features.Orders;

/// <summary>An event of an order's stream, stored with the id its Kafka record carries (<see cref="LoggedEvent"/>).</summary>
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
/// An order's current state: Marten's inline projection of its stream, stored with each event so reads query a plain
/// document. The stream key is the order number as text ("1042"); the API shows the number.
/// </summary>
public sealed record Order
{
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

/// <summary>What may happen to an order, as pure functions of its state: only PENDING -> PAID and PENDING -> CANCELLED.</summary>
public static class OrderDecisions
{
    /// <summary>Someone else's order is reported as missing (404, never 403), so ids reveal nothing.</summary>
    public static ProblemDetails MustBeOwnedBy(Order order, long userId) =>
        order.UserId == userId ? WolverineContinue.NoProblems : Validation.NotFound($"Order {order.Id} does not exist.");

    /// <summary>404 for someone else's order; 409 for anything but a PENDING order, naming the status it has.</summary>
    public static ProblemDetails MayMove(Order order, long userId, OrderStatus next) =>
        MustBeOwnedBy(order, userId) is var notYours && notYours != WolverineContinue.NoProblems ? notYours
        : order.Status == OrderStatus.Pending ? WolverineContinue.NoProblems
        : Validation.Conflict($"Order {order.Id} is {order.Status.ToString().ToUpperInvariant()}; only a PENDING order can become {next.ToString().ToUpperInvariant()}.");

    public static OrderPaid Pay(Order order, DateTimeOffset now) => new(order.TotalAmount, now);

    public static OrderCancelled Cancel(DateTimeOffset now) => new(now);
}

public static class OrdersModule
{
    /// <summary>Orders are event streams keyed by the order number; <see cref="Order"/> is their inline projection.</summary>
    public static WebApplicationBuilder AddOrders(this WebApplicationBuilder builder)
    {
        builder.Services.ConfigureMarten(options =>
        {
            options.Events.StreamIdentity = StreamIdentity.AsString;
            options.Events.AddEventType<OrderPlaced>();
            options.Events.AddEventType<OrderPaid>();
            options.Events.AddEventType<OrderCancelled>();
            // Kept in the same transaction as each event: reads and paging query a plain document.
            options.Projections.Snapshot<Order>(SnapshotLifecycle.Inline);
            // GET /api/orders walks one index ("my orders, newest first") instead of sorting all of a user's orders: the
            // filter and sort keys are columns of their own (Marten fills them), Order.Id as order_id beside the key's id.
            options.Policies.ForAllDocuments(mapping =>
            {
                if (mapping.DocumentType != typeof(Order)) return;
                mapping.DuplicateField(nameof(Order.UserId));
                mapping.DuplicateField(nameof(Order.CreatedAt));
                mapping.DuplicateField([typeof(Order).GetProperty(nameof(Order.Id))!], columnName: "order_id");
                mapping.AddIndex("user_id", "created_at", "order_id").IncludeColumns = ["id"];
            });
        });
        // Idempotency-Key on POST /api/orders: Wolverine's stored responses, in its PostgreSQL message store.
        builder.Services.ConfigureWolverine(opts => opts.Durability.EnableDeduplicatedResponses = true);
        builder.Services.AddSingleton<OrderEventReplay>();
        return builder;
    }
}
