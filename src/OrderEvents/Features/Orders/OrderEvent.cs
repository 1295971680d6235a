using System.Text.Json.Serialization;
using JasperFx.Events;

namespace OrderEvents.Features.Orders;

/// <summary>
/// The contract of an order event on Kafka's `order-events` topic, read by non-Wolverine consumers too (docs/api.md).
/// Every field but <c>version</c> is required (never defaulted to 0), and a record that cannot be attributed cannot be
/// constructed: it fails to deserialize and Wolverine dead-letters it before any handler sees it.
/// </summary>
public sealed record OrderEvent(
    Guid EventId,
    [property: JsonRequired] string EventType,
    [property: JsonRequired, JsonConverter(typeof(UtcMillisecondsConverter))] DateTimeOffset Timestamp,
    long OrderId,
    long UserId,
    [property: JsonRequired] decimal TotalAmount)
{
    [JsonRequired] public Guid EventId { get; init; } = EventId != Guid.Empty ? EventId
        : throw new InvalidOrderEventException($"Order event for order {OrderId} needs a non-empty eventId");

    [JsonRequired] public long OrderId { get; init; } = OrderId > 0 ? OrderId
        : throw new InvalidOrderEventException($"Order event {EventId} needs a positive orderId (got {OrderId})");

    [JsonRequired] public long UserId { get; init; } = UserId > 0 ? UserId
        : throw new InvalidOrderEventException($"Order event {EventId} needs a positive userId (got {UserId})");

    /// <summary>
    /// The event's stream version (1 for ORDER_CREATED, then 2, 3 …), so a consumer can tell an earlier event is
    /// missing. Null only on records of other producers or made by hand (no ordering check for them).
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? Version
    {
        get;
        init => field = value is null or > 0 ? value
            : throw new InvalidOrderEventException($"Order event {EventId} needs a positive version when it has one (got {value})");
    }

    /// <summary>The record of one logged event: an order's user and total never change, so its current state serves every event.</summary>
    public static OrderEvent For(Order order, IOrderEvent logged, Guid eventId, long version) => new(
        eventId,
        OrderEventTypes.For(logged),
        logged.At,
        order.Id,
        order.UserId,
        // 15000.00 -> 15000: the amount reads the same however the catalog price was typed.
        order.TotalAmount / 1.000000000000000000000000000000000m)
    {
        Version = version,
    };
}

/// <summary>One event id for the stored event, the Kafka record and the notification, so a replay republishes the same id.</summary>
public static class LoggedEvent
{
    /// <summary>The event that starts a new order's stream: version 1.</summary>
    public static (IEvent Stored, OrderEvent Published) First(OrderPlaced placed, Order order) => Of(placed, order, version: 1);

    /// <summary>The event appended to <paramref name="before"/>'s stream at the version [WriteAggregate] loaded, + 1.</summary>
    public static (IEvent Stored, OrderEvent Published) Next<T>(T data, Order before, Order after) where T : notnull, IOrderEvent =>
        Of(data, after, before.Version + 1);

    private static (IEvent Stored, OrderEvent Published) Of<T>(T data, Order after, long version) where T : notnull, IOrderEvent
    {
        var published = OrderEvent.For(after, data, Guid.CreateVersion7(), version);
        return (new Event<T>(data) { Id = published.EventId }, published);
    }
}

public static class OrderEventTypes
{
    public const string Created = "ORDER_CREATED";
    public const string Paid = "ORDER_PAID";
    public const string Cancelled = "ORDER_CANCELLED";

    public static string For(IOrderEvent logged) => logged switch
    {
        OrderPlaced => Created,
        OrderPaid => Paid,
        OrderCancelled => Cancelled,
        _ => throw new ArgumentOutOfRangeException(nameof(logged), logged.GetType().Name, "Not an order event"),
    };
}

public sealed class InvalidOrderEventException(string message) : Exception(message);

/// <summary>ISO-8601 in UTC with exactly three fractional digits and a 'Z', as the event contract says.</summary>
public sealed class UtcMillisecondsConverter : JsonConverter<DateTimeOffset>
{
    private const string Format = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";

    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        DateTimeOffset.Parse(reader.GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.UtcDateTime.ToString(Format, CultureInfo.InvariantCulture));
}
