using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using FluentValidation;

namespace OrderEvents.Bench.Baseline;

// The bare baseline's own copies of the service's contracts: the same JSON in and out, the same validation rules.
// Copied, not referenced, so the baseline process loads none of the service's dependencies.

public sealed record RegisterRequest(string Email, string Password);

public sealed record LoginRequest(string Email, string Password);

public sealed record TokenResponse(string AccessToken, string TokenType, int ExpiresIn);

public sealed record RegisteredUser(long Id, string Email);

public sealed record CreateOrderRequest(IReadOnlyList<OrderLine>? Items);

public sealed record OrderLine(long ProductId, int Quantity);

public sealed record OrderItem(long ProductId, int Quantity, decimal Price);

public enum OrderStatus
{
    Pending,
    Paid,
    Cancelled,
}

public sealed record OrderResponse(
    long Id, long UserId, decimal TotalAmount, OrderStatus Status, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt,
    IReadOnlyList<OrderItem> Items);

/// <summary>The `order-events` record contract (camelCase, timestamp in UTC with milliseconds).</summary>
public sealed record OrderEvent(
    [property: JsonRequired] Guid EventId,
    [property: JsonRequired] string EventType,
    [property: JsonRequired, JsonConverter(typeof(UtcMillisecondsConverter))] DateTimeOffset Timestamp,
    [property: JsonRequired] long OrderId,
    [property: JsonRequired] long UserId,
    [property: JsonRequired] decimal TotalAmount)
{
    public static OrderEvent For(long orderId, long userId, decimal totalAmount, DateTimeOffset at, string eventType) =>
        new(Guid.CreateVersion7(), eventType, at, orderId, userId, totalAmount / 1.000000000000000000000000000000000m);

    public static string TypeFor(OrderStatus status) => status switch
    {
        OrderStatus.Pending => "ORDER_CREATED",
        OrderStatus.Paid => "ORDER_PAID",
        OrderStatus.Cancelled => "ORDER_CANCELLED",
        _ => throw new ArgumentOutOfRangeException(nameof(status)),
    };

    public string? NotificationMessage() => EventType switch
    {
        "ORDER_CREATED" => $"Your order #{OrderId} has been created. Total: ${Amount(TotalAmount)}",
        "ORDER_PAID" => $"Your order #{OrderId} has been paid. Total: ${Amount(TotalAmount)}",
        "ORDER_CANCELLED" => $"Your order #{OrderId} has been cancelled.",
        _ => null,
    };

    private static string Amount(decimal amount) => amount.ToString("0.############################", CultureInfo.InvariantCulture);
}

public sealed class UtcMillisecondsConverter : JsonConverter<DateTimeOffset>
{
    private const string Format = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";

    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        DateTimeOffset.Parse(reader.GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.UtcDateTime.ToString(Format, CultureInfo.InvariantCulture));
}

public sealed class RegisterRequestValidator : AbstractValidator<RegisterRequest>
{
    public RegisterRequestValidator()
    {
        RuleFor(x => x.Email).NotEmpty().MaximumLength(254).EmailAddress();
        RuleFor(x => x.Password).NotEmpty().MinimumLength(8).MaximumLength(128);
    }
}

/// <summary>The service's CreateOrderRequestValidator rules.</summary>
public sealed class CreateOrderRequestValidator : AbstractValidator<CreateOrderRequest>
{
    public const int MaxItems = 100;
    public const int MaxQuantity = 1000;

    public CreateOrderRequestValidator()
    {
        RuleFor(x => x.Items).Cascade(CascadeMode.Stop)
            .NotEmpty().WithMessage("An order needs at least one item.")
            .Must(items => items!.Count <= MaxItems).WithMessage($"An order can have at most {MaxItems} items.")
            .Must(items => items!.All(item => item is not null)).WithMessage("Items cannot be null.")
            .Must(items => items!.Select(item => item.ProductId).Distinct().Count() == items!.Count)
            .WithMessage("Each product may appear only once; raise its quantity instead.");
        RuleForEach(x => x.Items).ChildRules(item =>
        {
            item.RuleFor(line => line.ProductId).GreaterThan(0);
            item.RuleFor(line => line.Quantity).InclusiveBetween(1, MaxQuantity);
        }).When(x => x.Items is not null && x.Items.All(item => item is not null));
    }
}

public static class BaselineJson
{
    public static readonly JsonSerializerOptions Events = new(JsonSerializerDefaults.Web);
}
