using Marten;
using Microsoft.AspNetCore.Authorization;
using OrderEvents.Infrastructure.Http;
using Wolverine.Http;

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
    public static async Task<IResult> GetOne(long id, IQuerySession session, HttpResponse response, CancellationToken cancellationToken)
    {
        if (await session.LoadAsync<Product>(id, cancellationToken) is not { } product)
            return Results.Problem(Validation.NotFound($"Product {id} does not exist."));

        // The version to send back in If-Match on PATCH.
        response.Headers.ETag = ProductVersion.ETag(session, product);
        return Results.Ok(ProductResponse.From(product));
    }
}
