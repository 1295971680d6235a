using Marten;
using OrderEvents.Features.Products;
using OrderEvents.Infrastructure.Telemetry;

namespace OrderEvents.Features.Orders;

public sealed record CreateOrderRequest(IReadOnlyList<OrderLine>? Items);

public sealed record OrderLine(long ProductId, int Quantity);

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

public static class CreateOrderEndpoint
{
    public const int IdempotencyWindowSeconds = 24 * 60 * 60;

    public static ProblemDetails Validate(CreateOrderRequest request, IValidator<CreateOrderRequest> validator) =>
        validator.Check(request);

    /// <summary>The requested products that exist and can be ordered, by id.</summary>
    public static async Task<IReadOnlyDictionary<long, Product>> LoadAsync(CreateOrderRequest request, IQuerySession session, CancellationToken cancellationToken)
    {
        var found = await session.LoadManyAsync<Product>(cancellationToken, request.Items!.Select(item => item.ProductId));
        return found.Where(product => product.Status == ProductStatus.Active).ToDictionary(product => product.Id);
    }

    [WolverineBefore]
    public static ProblemDetails RequireOrderableProducts(CreateOrderRequest request, IReadOnlyDictionary<long, Product> orderable)
    {
        var unavailable = request.Items!.Select(item => item.ProductId).Where(id => !orderable.ContainsKey(id)).ToList();
        return unavailable.Count == 0 ? WolverineContinue.NoProblems : Validation.NotFound($"Unknown or inactive products: {string.Join(", ", unavailable)}.");
    }

    /// <summary>
    /// Starts the order's stream; the projected order and the outbox's Kafka record commit in the same transaction. An
    /// optional <c>Idempotency-Key</c> is stored per user with the first response in that transaction too, so a repeat
    /// within 24 hours (racing or not) gets that response and no second order; the key with another body is a 422.
    /// </summary>
    [DeduplicatedWithResponse(DeduplicationScope.User | DeduplicationScope.Endpoint, Required = false,
        WindowInSeconds = IdempotencyWindowSeconds, ClaimInTransaction = true)]
    [WolverinePost("/api/orders")]
    [ProducesResponseType<ProblemDetails>(StatusCodes.Status404NotFound, "application/problem+json")]
    public static (Created<OrderResponse>, IStartStream, OrderEvent) Post(
        CreateOrderRequest request, IReadOnlyDictionary<long, Product> orderable, ClaimsPrincipal user, IDocumentSession session, TimeProvider clock)
    {
        // Numbers come from Marten's HiLo sequence for orders: each node reserves a block, so this rarely touches the database.
        var orderId = session.Database.Sequences.SequenceFor(typeof(Order)).NextLong();
        var placed = OrderPlaced.For(orderId, user.UserId(), request.Items!.Select(line => (orderable[line.ProductId], line.Quantity)), clock.GetUtcNow());
        var order = Order.Create(placed);
        var (stored, published) = LoggedEvent.First(placed, order);
        OrderEventsMetrics.OrderPlaced(order.Id);
        return (TypedResults.Created($"/api/orders/{order.Id}", OrderResponse.From(order)),
            MartenOps.StartStream<Order>(order.StreamKey, stored),
            published);
    }
}
