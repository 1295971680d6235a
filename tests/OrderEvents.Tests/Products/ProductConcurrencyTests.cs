using Alba;
using OrderEvents.Tests.Support;

namespace OrderEvents.Tests.Products;

/// <summary>PATCH /api/products/{id} with If-Match (the ETag of GET) applies only to the version it names.</summary>
[Collection(AppCollection.Name)]
public sealed class ProductConcurrencyTests(AppFixture fixture) : IntegrationContext(fixture)
{
    private async Task<string> ETagOf(long id)
    {
        var result = await Host.Scenario(s => s.Get.Url($"/api/products/{id}"));
        var etag = result.Context.Response.Headers.ETag.ToString();
        etag.ShouldStartWith("\"");
        return etag;
    }

    private async Task<IScenarioResult> Patch(TestUser admin, long id, object body, string? ifMatch, int expected) =>
        await Host.Scenario(s =>
        {
            s.Patch.Json(body).ToUrl($"/api/products/{id}");
            s.WithBearerToken(admin.Token);
            if (ifMatch is not null) s.WithRequestHeader("If-Match", ifMatch);
            s.StatusCodeShouldBe(expected);
        });

    private async Task<string> NameOf(long id) => (await Reread(id)).GetProperty("name").GetString()!;

    private async Task<System.Text.Json.JsonElement> Reread(long id) => await (await Host.Scenario(s => s.Get.Url($"/api/products/{id}"))).Json();

    [Fact]
    public async Task the_second_of_two_admins_editing_the_same_version_gets_a_412_and_changes_nothing()
    {
        var admin = await LoginAsAdmin();
        var seenByBoth = await ETagOf(2);

        await Patch(admin, 2, new { name = "First edit" }, seenByBoth, 200);
        var newer = await ETagOf(2);
        newer.ShouldNotBe(seenByBoth, "every write gives a new version");

        var stale = await Patch(admin, 2, new { name = "Second edit", price = 1 }, seenByBoth, 412);
        stale.Context.Response.ContentType!.ShouldStartWith("application/problem+json");
        var unchanged = await Reread(2);
        unchanged.GetProperty("name").GetString().ShouldBe("First edit");
        unchanged.GetProperty("price").GetDecimal().ShouldNotBe(1m, "the refused edit's price must not be stored");
        (await ETagOf(2)).ShouldBe(newer);

        // With the current ETag (or "*") the edit applies.
        await Patch(admin, 2, new { name = "Second edit" }, newer, 200);
        (await NameOf(2)).ShouldBe("Second edit");
        await Patch(admin, 2, new { name = "Any version" }, "*", 200);
        (await NameOf(2)).ShouldBe("Any version");
    }

    [Theory]
    [InlineData("\"00000000000000000000000000000000\"")]
    [InlineData("W/\"weak\"")]
    [InlineData("not-an-etag")]
    public async Task an_if_match_that_names_no_current_version_is_a_412(string ifMatch)
    {
        var admin = await LoginAsAdmin();
        var before = await ETagOf(3);
        await Patch(admin, 3, new { name = "Never" }, ifMatch, 412);
        (await ETagOf(3)).ShouldBe(before);
    }

    [Fact]
    public async Task without_if_match_a_patch_applies_as_before()
    {
        var admin = await LoginAsAdmin();
        await Patch(admin, 4, new { price = 1.5m }, null, 200);
        await Patch(admin, 4, new { name = "Plain" }, null, 200);
        // Each PATCH changes only the fields it names: the second keeps the first one's price.
        var product = await Reread(4);
        product.GetProperty("name").GetString().ShouldBe("Plain");
        product.GetProperty("price").GetDecimal().ShouldBe(1.5m);
    }

    [Fact]
    public async Task if_match_on_a_missing_product_is_a_404()
    {
        var admin = await LoginAsAdmin();
        await Patch(admin, 424242, new { name = "x" }, "*", 404);
    }
}
