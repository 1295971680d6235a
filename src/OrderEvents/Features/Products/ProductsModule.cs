using Marten;

namespace OrderEvents.Features.Products;

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
