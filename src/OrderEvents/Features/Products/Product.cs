namespace OrderEvents.Features.Products;

/// <summary>Serialized as "ACTIVE" / "INACTIVE" (upper snake case, see Program's JSON options).</summary>
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
