using Marten;
using Wolverine.Persistence;

namespace OrderEvents.Features.Products;

public static class ListProductsEndpoint
{
    [AllowAnonymous]
    [WolverineGet("/api/products")]
    public static async Task<IReadOnlyList<ProductResponse>> Get(IQuerySession session, CancellationToken cancellationToken)
    {
        var products = await session.Query<Product>().OrderBy(product => product.Id).ToListAsync(cancellationToken);
        return products.Select(ProductResponse.From).ToList();
    }

    [AllowAnonymous]
    [WolverineGet("/api/products/{id}")]
    [NonTransactional]
    [ProducesResponseType<ProblemDetails>(StatusCodes.Status404NotFound, "application/problem+json")]
    public static Ok<ProductResponse> GetOne(
        [Entity(OnMissing = OnMissing.ProblemDetailsWith404)] Product product, IQuerySession session, HttpResponse response)
    {
        // The version to send back in If-Match on PATCH.
        response.Headers.ETag = ProductVersion.ETag(session, product);
        return TypedResults.Ok(ProductResponse.From(product));
    }
}
