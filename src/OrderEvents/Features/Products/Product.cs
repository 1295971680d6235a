using Marten;
using Microsoft.Net.Http.Headers;

namespace OrderEvents.Features.Products;

/// <summary>Serialized as "ACTIVE" / "INACTIVE" (upper snake case, see the service's JSON options).</summary>
public enum ProductStatus
{
    Active,
    Inactive,
}

/// <summary>A catalog product. Orders snapshot its price at the time they are placed.</summary>
public sealed class Product
{
    public long Id { get; set; }
    public string Name { get; set; } = "";
    public decimal Price { get; set; }
    public ProductStatus Status { get; set; } = ProductStatus.Active;
}

public sealed record ProductResponse(long Id, string Name, decimal Price, ProductStatus Status)
{
    public static ProductResponse From(Product product) => new(product.Id, product.Name, product.Price, product.Status);
}

public static class ProductsModule
{
    public static WebApplicationBuilder AddProducts(this WebApplicationBuilder builder)
    {
        // If-Match on PATCH /api/products/{id}: the ETag is the document's version.
        builder.Services.ConfigureMarten(options => options.Schema.For<Product>().UseOptimisticConcurrency(true));
        if (builder.Configuration.GetValue("Catalog:SeedDemoProducts", false))
            builder.Services.InitializeMartenWith<DemoCatalog>();
        return builder;
    }
}

/// <summary>A product's ETag is its Marten document version: PATCH with If-Match applies only at that version, else 412.</summary>
public static class ProductVersion
{
    public static string ETag(IQuerySession session, Product product) =>
        session.VersionFor(product) is { } version ? $"\"{version:N}\"" : throw new InvalidOperationException("The product was not loaded by this session");

    /// <summary>No problem when the request has no If-Match or it matches; else the 412 to answer.</summary>
    public static ProblemDetails Check(HttpRequest request, string currentETag)
    {
        if (request.Headers.IfMatch.Count == 0) return WolverineContinue.NoProblems;

        var current = new EntityTagHeaderValue(currentETag);
        var matches = EntityTagHeaderValue.TryParseList(request.Headers.IfMatch, out var tags)
                      && tags.Any(tag => tag.Equals(EntityTagHeaderValue.Any) || tag.Compare(current, useStrongComparison: true));
        return matches
            ? WolverineContinue.NoProblems
            : new ProblemDetails
            {
                Status = StatusCodes.Status412PreconditionFailed,
                Title = "Precondition failed",
                Detail = $"The product changed since the version in If-Match; its current ETag is {currentETag}. Reload it and retry.",
            };
    }
}
