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
    public static async Task<IResult> GetOne(long id, IQuerySession session, CancellationToken cancellationToken) =>
        await session.LoadAsync<Product>(id, cancellationToken) is { } product
            ? Results.Ok(ProductResponse.From(product))
            : Results.Problem(Validation.NotFound($"Product {id} does not exist."));
}
