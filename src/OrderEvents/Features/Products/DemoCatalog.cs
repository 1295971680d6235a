using Marten;
using Marten.Schema;

namespace OrderEvents.Features.Products;

/// <summary>
/// The demo catalog (Catalog__SeedDemoProducts=true): ids 1..5 ACTIVE, 6 INACTIVE, inserted when the catalog is empty
/// (at start-up, and again after Marten's test data reset).
/// </summary>
public sealed class DemoCatalog : IInitialData
{
    public static readonly IReadOnlyList<Product> Products =
    [
        new() { Id = 1, Name = "Wireless Mouse", Price = 15000m, Status = ProductStatus.Active },
        new() { Id = 2, Name = "Mechanical Keyboard", Price = 89000m, Status = ProductStatus.Active },
        new() { Id = 3, Name = "USB-C Cable", Price = 12.5m, Status = ProductStatus.Active },
        new() { Id = 4, Name = "27-inch Monitor", Price = 329000m, Status = ProductStatus.Active },
        new() { Id = 5, Name = "Laptop Stand", Price = 45000m, Status = ProductStatus.Active },
        new() { Id = 6, Name = "Discontinued Webcam", Price = 39000m, Status = ProductStatus.Inactive },
    ];

    public async Task Populate(IDocumentStore store, CancellationToken cancellation)
    {
        await using var session = store.LightweightSession();
        if (await session.Query<Product>().AnyAsync(cancellation)) return;

        session.Store(Products.ToArray());
        await session.SaveChangesAsync(cancellation);
        // The seed chose its ids by hand: start Marten's HiLo sequence above them for admin-created products.
        await store.Advanced.ResetHiloSequenceFloor<Product>(1000);
    }
}
