using Marten;

namespace OrderEvents.Features.Products;

public static class ProductsModule
{
    public static WebApplicationBuilder AddProducts(this WebApplicationBuilder builder)
    {
        builder.Services.ConfigureMarten(options => options.Schema.For<Product>());
        if (builder.Configuration.GetValue("Catalog:SeedDemoProducts", builder.Environment.IsDevelopment()))
            builder.Services.InitializeMartenWith<DemoCatalog>();
        return builder;
    }
}
