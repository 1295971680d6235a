using System.Net;
using Alba;
using OrderEvents.Features.Products;
using OrderEvents.Tests.Support;

namespace OrderEvents.Tests.Products;

[Collection(AppCollection.Name)]
public sealed class ProductTests(AppFixture fixture) : IntegrationContext(fixture)
{
    [Fact]
    public async Task anyone_can_list_the_seeded_catalog_with_decimal_prices_and_statuses()
    {
        var result = await Host.Scenario(s => s.Get.Url("/api/products"));
        var products = (await result.Json()).EnumerateArray().ToList();

        products.Select(p => p.GetProperty("id").GetInt64()).ShouldBe([1, 2, 3, 4, 5, 6]);
        products.Count(p => p.GetProperty("status").GetString() == "ACTIVE").ShouldBe(5);
        products.Single(p => p.GetProperty("status").GetString() == "INACTIVE").GetProperty("id").GetInt64().ShouldBe(6);
        products.Single(p => p.GetProperty("id").GetInt64() == 3).GetProperty("price").GetDecimal().ShouldBe(12.5m);
    }

    [Fact]
    public async Task only_admins_can_create_products()
    {
        var request = new CreateProductRequest("Desk Lamp", 25000.50m, null);
        await Host.Scenario(s =>
        {
            s.Post.Json(request).ToUrl("/api/products");
            s.StatusCodeShouldBe(HttpStatusCode.Unauthorized);
        });
        var user = await RegisterAndLogin();
        await Host.Scenario(s =>
        {
            s.Post.Json(request).ToUrl("/api/products");
            s.WithBearerToken(user.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Forbidden);
        });

        var admin = await LoginAsAdmin();
        var created = await Host.Scenario(s =>
        {
            s.Post.Json(request).ToUrl("/api/products");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        var product = await created.Json();
        var id = product.GetProperty("id").GetInt64();
        id.ShouldBeGreaterThan(6); // never collides with the seeded ids
        product.GetProperty("price").GetDecimal().ShouldBe(25000.50m);
        product.GetProperty("status").GetString().ShouldBe("ACTIVE");
        created.Context.Response.Headers.Location.ToString().ShouldBe($"/api/products/{id}");

        var listed = await (await Host.Scenario(s => s.Get.Url("/api/products"))).Json();
        listed.EnumerateArray().ShouldContain(p => p.GetProperty("id").GetInt64() == id);
    }

    [Fact]
    public async Task admins_can_change_price_and_status_of_a_product()
    {
        var admin = await LoginAsAdmin();
        var result = await Host.Scenario(s =>
        {
            s.Patch.Json(new { price = 16000, status = "INACTIVE" }).ToUrl("/api/products/1");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        var product = await result.Json();
        product.GetProperty("name").GetString().ShouldBe("Wireless Mouse");
        product.GetProperty("price").GetDecimal().ShouldBe(16000m);
        product.GetProperty("status").GetString().ShouldBe("INACTIVE");
        await ShouldRead(1, price: 16000m, status: "INACTIVE");

        var user = await RegisterAndLogin();
        await Host.Scenario(s =>
        {
            s.Patch.Json(new { price = 1 }).ToUrl("/api/products/1");
            s.WithBearerToken(user.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Forbidden);
        });
        await ShouldRead(1, price: 16000m, status: "INACTIVE");
    }

    /// <summary>What GET returns now: a change is proven stored, not only echoed by the PATCH response.</summary>
    private async Task ShouldRead(long id, decimal price, string status)
    {
        var stored = await (await Host.Scenario(s => s.Get.Url($"/api/products/{id}"))).Json();
        stored.GetProperty("name").GetString().ShouldBe("Wireless Mouse");
        stored.GetProperty("price").GetDecimal().ShouldBe(price);
        stored.GetProperty("status").GetString().ShouldBe(status);
    }

    [Fact]
    public async Task bad_product_input_is_a_400_and_a_missing_product_a_404()
    {
        var admin = await LoginAsAdmin();
        await Host.Scenario(s =>
        {
            s.Post.Json(new { name = "", price = -1 }).ToUrl("/api/products");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.BadRequest);
        });
        await Host.Scenario(s =>
        {
            s.Post.Json(new { name = "Lamp", price = 10, status = "SOLD_OUT" }).ToUrl("/api/products");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.BadRequest);
        });
        await Host.Scenario(s =>
        {
            s.Patch.Json(new { price = 10 }).ToUrl("/api/products/999999");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });
        // GET loads declaratively ([Entity], OnMissing = ProblemDetailsWith404): a ProblemDetails body, not an empty 404.
        var missing = await Host.Scenario(s =>
        {
            s.Get.Url("/api/products/999999");
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });
        missing.Context.Response.ContentType.ShouldStartWith("application/problem+json");
        (await missing.Json()).GetProperty("status").GetInt32().ShouldBe(404);
    }
}
