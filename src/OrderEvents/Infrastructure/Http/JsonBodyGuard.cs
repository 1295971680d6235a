using System.Collections;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Wolverine.Http;

namespace OrderEvents.Infrastructure.Http;

/// <summary>
/// Checks every JSON request body before an endpoint sees it, reading it once and parsing it once (a trial binding to
/// the endpoint's request type): size (413), a media type Wolverine would take for JSON but is not UTF-8 JSON (415),
/// valid JSON, an object at the root, no unknown field, every value of the right type, and no string PostgreSQL cannot
/// store (a NUL, a lone UTF-16 surrogate, invalid UTF-8). Each failure is a 400 naming the field in the API's words,
/// logged without a stack trace, and nothing reaches the database. The body is small and kept in memory, so Wolverine
/// reads it again from there.
/// </summary>
public sealed class JsonBodyGuard(RequestDelegate next, IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json, ILogger<JsonBodyGuard> logger)
{
    /// <summary>The largest request body accepted (an order of 100 items is about 4 KB).</summary>
    public const int MaxBodyBytes = 64 * 1024;

    // The API's options (enum names, unknown fields refused), plus the check that every string can be stored. Only this
    // trial binding uses it: Wolverine binds the accepted body with the API's options as they are.
    private readonly JsonSerializerOptions _serializer = new(json.Value.SerializerOptions) { Converters = { new StorableStrings() } };

    public async Task InvokeAsync(HttpContext context)
    {
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = MaxBodyBytes;
        if (context.Request.ContentLength > MaxBodyBytes)
        {
            await Reject(context, TooLarge());
            return;
        }

        var bodyType = context.GetEndpoint()?.Metadata.GetMetadata<HttpChain>()?.RequestType;
        // Any other media type is Wolverine's own 415; it takes a missing Content-Type or another charset for JSON.
        if (bodyType is null || bodyType == typeof(void) || HttpMethods.IsGet(context.Request.Method) || IsOtherMediaType(context.Request.ContentType))
        {
            await next(context);
            return;
        }

        if (!IsUtf8Json(context.Request.ContentType))
        {
            await Reject(context, new ProblemDetails
            {
                Status = StatusCodes.Status415UnsupportedMediaType,
                Title = "Unsupported media type",
                Detail = "The request body must be JSON in UTF-8, sent with 'Content-Type: application/json'.",
            });
            return;
        }

        // Sized by Content-Length when there is one; one byte more than that, or than allowed, reveals a longer body.
        var buffer = new byte[(int)Math.Min(context.Request.ContentLength ?? MaxBodyBytes, MaxBodyBytes) + 1];
        var body = buffer[..await context.Request.Body.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, context.RequestAborted)];
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
        await next(context);
    }

    /// <summary>Why this body is refused (400), or null when it binds to <paramref name="bodyType"/>.</summary>
    private ProblemDetails? Inspect(byte[] body, Type bodyType)
    {
        try
        {
            return JsonSerializer.Deserialize(body, bodyType, _serializer) is null ? NotAnObject() : null;
        }
        catch (UnstorableString e)
        {
            var field = JsonWords.FieldOf(e.Path);
            return FieldError(field, $"'{field}' {e.Message}.");
        }
        catch (JsonException e) when (e.InnerException is JsonException syntax)
        {
            return body.All(b => b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
                ? BadBody("A request body (a JSON object) is required.")
                : BadBody($"The request body is not valid JSON (line {syntax.LineNumber + 1}, byte {syntax.BytePositionInLine + 1}).");
        }
        catch (JsonException e) when (JsonWords.FieldOf(e.Path) == "body")
        {
            return NotAnObject();
        }
        catch (JsonException e)
        {
            var field = JsonWords.FieldOf(e.Path);
            return FieldError(field, JsonWords.Expected(bodyType, field));
        }
    }

    /// <summary>
    /// A media type that is not JSON at all: Wolverine answers it with its own 415 (it reads a body only when the
    /// Content-Type is missing or mentions json or */*).
    /// </summary>
    private static bool IsOtherMediaType(string? contentType) =>
        !string.IsNullOrEmpty(contentType) && !contentType.Contains("json", StringComparison.OrdinalIgnoreCase) && !contentType.Contains('*');

    private static bool IsUtf8Json(string? contentType) =>
        contentType is not null
        && Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(contentType, out var media)
        && (media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || media.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase))
        && (media.Charset.Length == 0 || media.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase));

    private static ProblemDetails TooLarge() => new()
    {
        Status = StatusCodes.Status413PayloadTooLarge,
        Title = "Request body too large",
        Detail = $"The request body may be at most {MaxBodyBytes / 1024} KB.",
    };

    // null, an array, a string, a number, or an object whose field names are not valid text.
    private static ProblemDetails NotAnObject() => BadBody("The request body must be a JSON object with this request's fields.");

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
        await TypedResults.Problem(problem).ExecuteAsync(context);
    }

    /// <summary>A string PostgreSQL cannot store: it has a NUL, or is not valid Unicode (a lone surrogate, invalid UTF-8).</summary>
    private sealed class UnstorableString(string message) : JsonException(message);

    private sealed class StorableStrings : JsonConverter<string>
    {
        public override string Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            if (reader.TokenType != JsonTokenType.String) throw new JsonException();
            string value;
            try
            {
                value = reader.GetString()!;
            }
            catch (InvalidOperationException)
            {
                throw new UnstorableString("must be valid Unicode text (no lone UTF-16 surrogate, no invalid UTF-8)");
            }

            return value.Contains('\0') ? throw new UnstorableString("must not contain the NUL character (\\u0000)") : value;
        }

        public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);
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
