using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using OrderEvents.Infrastructure.Http;

namespace OrderEvents.Tests.Hardening;

/// <summary>A body field of the wrong JSON type is named in the API's words (camelCase path, JSON types), never in .NET's.</summary>
public sealed class JsonWordsTests
{
    private enum Colour { Red, DarkBlue }

    private sealed record Line(long ProductId, int Quantity);

    private sealed record Request(IReadOnlyList<Line>? Items, Colour? Colour, decimal Price, string Name);

    [Theory]
    [InlineData("items[0].quantity", "'items[0].quantity' must be a whole number from -2147483648 to 2147483647.")]
    [InlineData("Items[0].Quantity", "'Items[0].Quantity' must be a whole number from -2147483648 to 2147483647.")]
    [InlineData("items[0].productId", "'items[0].productId' must be a whole number from -9223372036854775808 to 9223372036854775807.")]
    [InlineData("items", "'items' must be an array.")]
    [InlineData("items[0]", "'items[0]' must be an object.")]
    [InlineData("colour", "'colour' must be one of RED, DARK_BLUE.")]
    [InlineData("price", "'price' must be a number (at most 28 significant digits).")]
    [InlineData("name", "'name' must be a string.")]
    [InlineData("isAdmin", "'isAdmin' is not a field of this request.")]
    public void a_field_is_described_by_its_json_path_and_json_type(string field, string expected)
    {
        // As the API's options: web defaults (camelCase), reflection-based contracts.
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web) { TypeInfoResolver = new DefaultJsonTypeInfoResolver() };
        JsonWords.Expected(options, typeof(Request), field).ShouldBe(expected);
    }

    [Fact]
    public void the_path_of_a_json_exception_is_the_field_and_the_root_is_the_body()
    {
        JsonWords.FieldOf("$.items[0].quantity").ShouldBe("items[0].quantity");
        JsonWords.FieldOf("$").ShouldBe("body");
        JsonWords.FieldOf(null).ShouldBe("body");
    }
}
