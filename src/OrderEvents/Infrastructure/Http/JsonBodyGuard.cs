using System.Collections;
using System.Text.Json;
using System.Text.Unicode;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Wolverine.Http;

namespace OrderEvents.Infrastructure.Http;

/// <summary>
/// Checks every JSON request body before an endpoint sees it: size (413), media type (415), UTF-8, JSON syntax,
/// an object at the root, no NUL character in any string (PostgreSQL cannot store it), and that it binds to the
/// endpoint's request type. Each failure is a 400 naming the field in the API's words, logged without a stack
/// trace, and nothing reaches the database. The body is buffered (it is small), so the endpoint reads it again.
/// </summary>
public sealed class JsonBodyGuard(RequestDelegate next, IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json, IProblemDetailsService problems, ILogger<JsonBodyGuard> logger)
{
    /// <summary>The largest request body accepted (an order of 100 items is about 4 KB).</summary>
    public const int MaxBodyBytes = 64 * 1024;

    private readonly JsonSerializerOptions _serializer = json.Value.SerializerOptions;

    public async Task InvokeAsync(HttpContext context)
    {
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = MaxBodyBytes;
        if (context.Request.ContentLength > MaxBodyBytes)
        {
            await Reject(context, TooLarge());
            return;
        }

        var bodyType = context.GetEndpoint()?.Metadata.GetMetadata<HttpChain>()?.RequestType;
        if (bodyType is null || bodyType == typeof(void) || HttpMethods.IsGet(context.Request.Method))
        {
            await next(context);
            return;
        }

        if (!IsJson(context.Request.ContentType))
        {
            await Reject(context, new ProblemDetails
            {
                Status = StatusCodes.Status415UnsupportedMediaType,
                Title = "Unsupported media type",
                Detail = "The request body must be JSON, sent with 'Content-Type: application/json'.",
            });
            return;
        }

        var body = await ReadUpTo(context.Request.Body, MaxBodyBytes + 1, context.RequestAborted);
        if (body.Length > MaxBodyBytes)
        {
            await Reject(context, TooLarge());
            return;
        }

        if (Inspect(body, bodyType) is { } problem)
        {
            await Reject(context, problem);
            return;
        }

        context.Request.Body = new MemoryStream(body, writable: false);
        context.Features.Set(new BufferedJsonBody(body));
        await next(context);
    }

    /// <summary>Why this body is refused (400), or null when it binds to <paramref name="bodyType"/>.</summary>
    public ProblemDetails? Inspect(byte[] body, Type bodyType)
    {
        if (!Utf8.IsValid(body)) return BadBody("The request body is not valid UTF-8.");

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException e)
        {
            return body.All(b => b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
                ? BadBody("A request body (a JSON object) is required.")
                : BadBody($"The request body is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}).");
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                return BadBody($"The request body must be a JSON object, not {JsonWords.Kind(document.RootElement.ValueKind)}.");
            if (FindNul(document.RootElement, "") is { } nulField)
                return FieldError(nulField, $"'{nulField}' must not contain the NUL character (\\u0000).");
        }

        try
        {
            JsonSerializer.Deserialize(body, bodyType, _serializer);
            return null;
        }
        catch (JsonException e)
        {
            var field = JsonWords.FieldOf(e.Path);
            return FieldError(field, JsonWords.Expected(bodyType, field));
        }
    }

    /// <summary>The first string (or property name) holding U+0000, as an API path like "items[0].name".</summary>
    private static string? FindNul(JsonElement element, string path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                return element.GetString()!.Contains('\0') ? path : null;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    var child = path.Length == 0 ? property.Name : $"{path}.{property.Name}";
                    if (property.Name.Contains('\0')) return child;
                    if (FindNul(property.Value, child) is { } found) return found;
                }
                return null;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                    if (FindNul(item, $"{path}[{index++}]") is { } found) return found;
                return null;
            default:
                return null;
        }
    }

    private static bool IsJson(string? contentType) =>
        contentType is not null
        && Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(contentType, out var media)
        && (media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || media.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase))
        && (media.Charset.Length == 0 || media.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase));

    private static async Task<byte[]> ReadUpTo(Stream stream, int limit, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while (buffer.Length < limit && (read = await stream.ReadAsync(chunk.AsMemory(0, (int)Math.Min(chunk.Length, limit - buffer.Length)), cancellationToken)) > 0)
            buffer.Write(chunk, 0, read);
        return buffer.ToArray();
    }

    private static ProblemDetails TooLarge() => new()
    {
        Status = StatusCodes.Status413PayloadTooLarge,
        Title = "Request body too large",
        Detail = $"The request body may be at most {MaxBodyBytes / 1024} KB.",
    };

    private static ProblemDetails BadBody(string detail) =>
        new() { Status = StatusCodes.Status400BadRequest, Title = "Unreadable request body", Detail = detail };

    private static ValidationProblemDetails FieldError(string field, string message) =>
        new(new Dictionary<string, string[]> { [field] = [message] })
        {
            Status = StatusCodes.Status400BadRequest,
            Title = "One or more validation errors occurred.",
        };

    private async Task Reject(HttpContext context, ProblemDetails problem)
    {
        // A client error: worth a line, never a stack trace.
        logger.LogInformation("Refused the body of {Method} {Path}: {Status} {Reason}",
            context.Request.Method, context.Request.Path, problem.Status,
            problem is ValidationProblemDetails v ? string.Join("; ", v.Errors.SelectMany(e => e.Value)) : problem.Detail);
        context.Response.StatusCode = problem.Status!.Value;
        await problems.WriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem });
    }
}

/// <summary>JSON paths and expected value shapes in the API's words (camelCase fields, JSON types), never .NET names.</summary>
public static class JsonWords
{
    /// <summary>"$.items[0].quantity" -> "items[0].quantity"; the root is "body".</summary>
    public static string FieldOf(string? jsonPath)
    {
        var field = (jsonPath ?? "$").TrimStart('$').TrimStart('.');
        return field.Length == 0 ? "body" : field;
    }

    public static string Kind(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "empty",
    };

    /// <summary>What the field at <paramref name="field"/> of <paramref name="root"/> must hold, as a sentence.</summary>
    public static string Expected(Type root, string field)
    {
        var type = root;
        foreach (var segment in field.Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            var name = segment.Split('[')[0];
            if (name.Length > 0 && name != "body")
            {
                var property = type.GetProperties().FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));
                if (property is null) return $"'{field}' is not a field of this request.";
                type = property.PropertyType;
            }

            for (var i = 0; i < segment.Count(c => c == '['); i++) type = ElementType(type) ?? type;
        }

        return $"'{field}' must be {Shape(type)}.";
    }

    private static string Shape(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type.IsEnum)
            return "one of " + string.Join(", ", Enum.GetNames(type).Select(n => JsonNamingPolicy.SnakeCaseUpper.ConvertName(n)));
        if (type == typeof(int)) return $"a whole number from {int.MinValue} to {int.MaxValue}";
        if (type == typeof(long)) return $"a whole number from {long.MinValue} to {long.MaxValue}";
        if (type == typeof(decimal)) return "a number (at most 28 significant digits)";
        if (type == typeof(string)) return "a string";
        if (type == typeof(bool)) return "true or false";
        if (type == typeof(DateTimeOffset) || type == typeof(DateTime)) return "an ISO 8601 date and time";
        if (ElementType(type) is not null) return "an array";
        return "an object";
    }

    private static Type? ElementType(Type type) =>
        type == typeof(string) || !typeof(IEnumerable).IsAssignableFrom(type)
            ? null
            : type.IsArray ? type.GetElementType()
            : type.GetInterfaces().Append(type).FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>))?.GetGenericArguments()[0];
}
