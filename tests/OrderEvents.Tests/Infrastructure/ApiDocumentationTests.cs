using System.Text.Json;
using Alba;
using OrderEvents.DevHost.ApiReference;
using OrderEvents.Tests.Support;

namespace OrderEvents.Tests.Infrastructure;

/// <summary>The OpenAPI document describes every endpoint (Wolverine.Http ones included), its bodies and the bearer scheme.</summary>
[Collection(DevHostCollection.Name)]
public sealed class ApiDocumentationTests(DevHostAppFixture fixture)
{
    private async Task<JsonElement> Document()
    {
        var result = await fixture.Host.Scenario(s =>
        {
            s.Get.Url(ApiDocumentation.DocumentPath);
            s.StatusCodeShouldBeOk();
        });
        return JsonDocument.Parse(await result.ReadAsTextAsync()).RootElement.Clone();
    }

    public static TheoryData<string, string, bool> Operations => new()
    {
        { "post", "/api/auth/register", false },
        { "post", "/api/auth/login", false },
        { "get", "/api/auth/me", true },
        { "get", "/api/products", false },
        { "get", "/api/products/{id}", false },
        { "post", "/api/products", true },
        { "patch", "/api/products/{id}", true },
        { "post", "/api/orders", true },
        { "get", "/api/orders", true },
        { "get", "/api/orders/{id}", true },
        { "get", "/api/orders/{id}/events", true },
        { "patch", "/api/orders/{id}/pay", true },
        { "patch", "/api/orders/{id}/cancel", true },
        { "get", "/api/notifications", true },
        { "get", "/api/notifications/stream", true },
    };

    /// <summary>The ProblemDetails responses each operation documents: exactly the ones it can give.</summary>
    public static TheoryData<string, string, int[]> ErrorCodes => new()
    {
        { "post", "/api/auth/register", [400, 409, 413, 415, 429, 503] },
        { "post", "/api/auth/login", [400, 401, 413, 415, 429, 503] },
        { "get", "/api/auth/me", [401] },
        { "get", "/api/products", [503] },
        { "get", "/api/products/{id}", [400, 404, 503] },
        { "post", "/api/products", [400, 401, 403, 413, 415, 503] },
        { "patch", "/api/products/{id}", [400, 401, 403, 404, 412, 413, 415, 503] },
        { "post", "/api/orders", [400, 401, 404, 409, 413, 415, 422, 503] },
        { "get", "/api/orders", [400, 401, 503] },
        { "get", "/api/orders/{id}", [400, 401, 404, 503] },
        { "get", "/api/orders/{id}/events", [400, 401, 404, 503] },
        { "patch", "/api/orders/{id}/pay", [400, 401, 404, 409, 503] },
        { "patch", "/api/orders/{id}/cancel", [400, 401, 404, 409, 503] },
        { "get", "/api/notifications", [400, 401, 503] },
        { "get", "/api/notifications/stream", [400, 401, 503] },
    };

    [Theory]
    [MemberData(nameof(ErrorCodes))]
    public async Task every_endpoint_documents_its_error_responses_as_problem_details(string method, string path, int[] expected)
    {
        var operation = (await Document()).GetProperty("paths").GetProperty(path).GetProperty(method);
        var errors = operation.GetProperty("responses").EnumerateObject()
            .Where(response => int.Parse(response.Name) >= 400).ToList();
        errors.Select(response => int.Parse(response.Name)).Order().ToArray().ShouldBe(expected, $"{method.ToUpperInvariant()} {path}");
        foreach (var response in errors)
            response.Value.GetProperty("content").GetProperty("application/problem+json").GetProperty("schema")
                .GetProperty("$ref").GetString().ShouldBe("#/components/schemas/ProblemDetails", $"{method.ToUpperInvariant()} {path} {response.Name}");
    }

    [Fact]
    public async Task typed_results_describe_their_success_bodies()
    {
        var paths = (await Document()).GetProperty("paths");
        string Ref(string path, string method, string status) => paths.GetProperty(path).GetProperty(method).GetProperty("responses").GetProperty(status)
            .GetProperty("content").GetProperty("application/json").GetProperty("schema").GetProperty("$ref").GetString()!;
        Ref("/api/products", "post", "201").ShouldBe("#/components/schemas/ProductResponse");
        Ref("/api/products/{id}", "get", "200").ShouldBe("#/components/schemas/ProductResponse");
        Ref("/api/auth/register", "post", "201").ShouldBe("#/components/schemas/RegisteredUser");
        Ref("/api/auth/login", "post", "200").ShouldBe("#/components/schemas/TokenResponse");
        paths.GetProperty("/api/notifications/stream").GetProperty("get").GetProperty("responses").GetProperty("200")
            .GetProperty("content").TryGetProperty("text/event-stream", out _).ShouldBeTrue();
    }

    [Theory]
    [MemberData(nameof(Operations))]
    public async Task every_endpoint_is_described_with_its_bearer_requirement(string method, string path, bool requiresUser)
    {
        var document = await Document();
        document.GetProperty("paths").TryGetProperty(path, out var item).ShouldBeTrue($"{path} is missing from the document");
        item.TryGetProperty(method, out var operation).ShouldBeTrue($"{method.ToUpperInvariant()} {path} is missing from the document");
        operation.GetProperty("responses").EnumerateObject().ShouldNotBeEmpty();

        var bearer = operation.TryGetProperty("security", out var security)
                     && security.EnumerateArray().Any(requirement => requirement.TryGetProperty(ApiDocumentation.BearerScheme, out _));
        bearer.ShouldBe(requiresUser, $"{method.ToUpperInvariant()} {path}: bearer requirement");
    }

    /// <summary>Both lists above name every operation of the document: a new route cannot be left out of them.</summary>
    [Fact]
    public async Task the_lists_above_cover_every_operation_of_the_document()
    {
        var documented = (await Document()).GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject().Select(operation => $"{operation.Name} {path.Name}"))
            .Order().ToList();
        Operations.Select(row => $"{row[0]} {row[1]}").Order().ToList().ShouldBe(documented, "bearer list");
        ErrorCodes.Select(row => $"{row[0]} {row[1]}").Order().ToList().ShouldBe(documented, "error-code list");
    }

    [Fact]
    public async Task request_and_response_bodies_have_schemas_and_the_bearer_scheme_is_declared()
    {
        var document = await Document();
        var schemas = document.GetProperty("components").GetProperty("schemas");
        foreach (var name in new[] { "RegisterRequest", "LoginRequest", "CreateOrderRequest", "OrderResponse", "ProductResponse", "NotificationResponse", "ProblemDetails" })
            schemas.TryGetProperty(name, out _).ShouldBeTrue($"schema {name} is missing");

        // The order's request body points at its schema, whose items carry the product and quantity.
        var createOrder = document.GetProperty("paths").GetProperty("/api/orders").GetProperty("post");
        createOrder.GetProperty("requestBody").GetProperty("content").GetProperty("application/json").GetProperty("schema")
            .GetProperty("$ref").GetString().ShouldBe("#/components/schemas/CreateOrderRequest");
        schemas.GetProperty("OrderResponse").GetProperty("properties").TryGetProperty("totalAmount", out _).ShouldBeTrue();

        var scheme = document.GetProperty("components").GetProperty("securitySchemes").GetProperty(ApiDocumentation.BearerScheme);
        scheme.GetProperty("type").GetString().ShouldBe("http");
        scheme.GetProperty("scheme").GetString().ShouldBe("bearer");
        scheme.GetProperty("bearerFormat").GetString().ShouldBe("JWT");
    }
}
