using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using JasperFx.Events;

namespace OrderEvents.Features.Orders;

/// <summary>
/// The contract of an order event on Kafka: the record published to the `order-events` topic (key = order id; routed
/// in Infrastructure/Kafka/MessagingSetup), read by non-Wolverine consumers too:
/// <c>{"eventId","eventType","timestamp","orderId","userId","totalAmount","version"}</c>, camelCase, timestamp in UTC with
/// milliseconds ("2025-01-30T10:15:30.123Z").
/// Every field but <c>version</c> is required when reading: a record without one is malformed (dead-lettered), never
/// defaulted to 0. <c>version</c> is the event's position in its order's stream (1 = ORDER_CREATED, then 2, 3 …): this
/// service always writes it, but records from older producers or made by hand (kcat) may lack it and are handled as
/// before (no ordering check, see NotifyUsersHandler).
/// An event that cannot be attributed (empty event id, order or user not positive) cannot be constructed either, so
/// such a record fails to deserialize and Wolverine dead-letters it before it reaches a handler or a batch.
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

    private readonly long? _version;

    /// <summary>
    /// The event's version in its order's stream (Marten's stream version: 1 for ORDER_CREATED, then 2, 3 …), so a
    /// consumer can tell when an earlier event of the order has not reached it yet. Absent (null) only on records from
    /// other producers; 0 or below is malformed.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? Version
    {
        get => _version;
        init => _version = value is null or > 0 ? value
            : throw new InvalidOrderEventException($"Order event {EventId} needs a positive version when it has one (got {value})");
    }

    /// <summary>
    /// The record for one event of <paramref name="order"/>'s stream, stored at <paramref name="version"/>. The order's
    /// user and total never change after it was placed, so its current state serves every one of its events (a replay
    /// needs nothing else).
    /// </summary>
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

/// <summary>
/// One event id for the stored event, the Kafka record and the notification: the event is appended with the id
/// its <see cref="OrderEvent"/> carries, so a replay from the log republishes the very same id.
/// </summary>
public static class LoggedEvent
{
    /// <summary>The event that starts a new order's stream: version 1.</summary>
    public static (IEvent Stored, OrderEvent Published) First(OrderPlaced placed, Order order) => Of(placed, order, version: 1);

    /// <summary>
    /// The one event appended to <paramref name="before"/>'s stream ([WriteAggregate] loaded it at
    /// <see cref="Order.Version"/> and Marten appends at that version, a racing writer failing at commit), so its stream
    /// version is that version + 1.
    /// </summary>
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
