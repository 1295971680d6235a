using Marten;
using Wolverine.Persistence;

namespace OrderEvents.Features.Products;

/// <summary>Partial update: only the fields that are present change. Existing orders keep their price snapshot.</summary>
public sealed record UpdateProductRequest(string? Name, decimal? Price, ProductStatus? Status);

public sealed class UpdateProductRequestValidator : AbstractValidator<UpdateProductRequest>
{
    public UpdateProductRequestValidator()
    {
        RuleFor(x => x.Name).NotEmpty().MaximumLength(200).When(x => x.Name is not null);
        RuleFor(x => x.Price!.Value).GreaterThan(0).PrecisionScale(18, 2, ignoreTrailingZeros: true)
            .OverridePropertyName("price").When(x => x.Price is not null);
        RuleFor(x => x.Status).IsInEnum();
    }
}

public static class UpdateProductEndpoint
{
    public static ProblemDetails Validate(UpdateProductRequest request, IValidator<UpdateProductRequest> validator) =>
        validator.Check(request);

    /// <summary>412 when If-Match names another version than the one loaded.</summary>
    [WolverineBefore]
    public static ProblemDetails RequireVersion(
        [Entity(OnMissing = OnMissing.ProblemDetailsWith404, MissingMessage = "Product {Id} does not exist.")] Product product,
        HttpRequest request, IDocumentSession session) =>
        // The store below expects the loaded version, so a write that slips in after this check is a 412 as well.
        ProductVersion.Check(request, ProductVersion.ETag(session, product));

    [Authorize(Roles = AuthSetup.AdminRole)]
    [WolverinePatch("/api/products/{id}")]
    [ProducesResponseType<ProblemDetails>(StatusCodes.Status404NotFound, "application/problem+json")]
    [ProducesResponseType<ProblemDetails>(StatusCodes.Status412PreconditionFailed, "application/problem+json")]
    public static (ProductResponse, IMartenOp) Patch(UpdateProductRequest request, [NotBody] Product product)
    {
        product.Name = request.Name?.Trim() ?? product.Name;
        product.Price = request.Price ?? product.Price;
        product.Status = request.Status ?? product.Status;
        return (ProductResponse.From(product), MartenOps.Store(product));
    }
}
