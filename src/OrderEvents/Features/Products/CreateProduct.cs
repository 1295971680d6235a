using Marten;

namespace OrderEvents.Features.Products;

public sealed record CreateProductRequest(string Name, decimal Price, ProductStatus? Status);

public sealed class CreateProductRequestValidator : AbstractValidator<CreateProductRequest>
{
    public CreateProductRequestValidator()
    {
        RuleFor(x => x.Name).NotEmpty().MaximumLength(200);
        RuleFor(x => x.Price).GreaterThan(0).PrecisionScale(18, 2, ignoreTrailingZeros: true);
        RuleFor(x => x.Status).IsInEnum();
    }
}

public static class CreateProductEndpoint
{
    public static ProblemDetails Validate(CreateProductRequest request, IValidator<CreateProductRequest> validator) =>
        validator.Check(request);

    [Authorize(Roles = AuthSetup.AdminRole)]
    [WolverinePost("/api/products")]
    public static Created<ProductResponse> Post(CreateProductRequest request, IDocumentSession session)
    {
        var product = new Product { Name = request.Name.Trim(), Price = request.Price, Status = request.Status ?? ProductStatus.Active };
        session.Insert(product); // assigns the numeric id
        return TypedResults.Created($"/api/products/{product.Id}", ProductResponse.From(product));
    }
}
