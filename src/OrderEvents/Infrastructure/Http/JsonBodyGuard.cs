using System.Runtime.CompilerServices;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using JasperFx;
using JasperFx.CodeGeneration;
using JasperFx.CodeGeneration.Frames;
using JasperFx.CodeGeneration.Model;
using JasperFx.Core.Reflection;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;
using static OrderEvents.Infrastructure.Http.Validation;

namespace OrderEvents.Infrastructure.Http;

/// <summary>
/// Reads every Wolverine endpoint's JSON body in place of Wolverine's reader, which answers some bad bodies in .NET
/// type names, logs them as errors and lets strings PostgreSQL cannot store through: here each is a 4xx naming the
/// field in the API's words, logged without a stack trace, before any endpoint code runs (docs/api.md).
/// </summary>
public static class JsonBodyGuard
{
    /// <summary>The largest request body accepted (an order of 100 items is about 4 KB).</summary>
    public const int MaxBodyBytes = 64 * 1024;

    // The API's options plus the storable-string check, made once per options instance.
    private static readonly ConditionalWeakTable<JsonSerializerOptions, JsonSerializerOptions> Checked = new();

    /// <summary>413 for any request whose body is declared too large, before anything reads it.</summary>
    public static IApplicationBuilder UseBodySizeLimit(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = MaxBodyBytes;
        if (context.Request.ContentLength > MaxBodyBytes) await Reject(context, TooLarge());
        else await next(context);
    });

    /// <summary>Called by the generated endpoint code (<see cref="GuardedBodies"/>): the body, or Stop once the refusal is written.</summary>
    public static async ValueTask<(T?, HandlerContinuation)> ReadAsync<T>(HttpContext context, JsonSerializerOptions api)
    {
        var problem = CheckMediaTypes(context.Request);
        T? body = default;
        if (problem is null)
        {
            // Sized by Content-Length when there is one; one byte more than allowed reveals a longer body.
            var buffer = new byte[(int)Math.Min(context.Request.ContentLength ?? MaxBodyBytes, MaxBodyBytes) + 1];
            var bytes = buffer.AsMemory(0, await context.Request.Body.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, context.RequestAborted));
            problem = bytes.Length > MaxBodyBytes ? TooLarge() : Parse(bytes.Span, Checked.GetValue(api, Storable), out body);
        }

        if (problem is null) return (body, HandlerContinuation.Continue);
        await Reject(context, problem);
        return (default, HandlerContinuation.Stop);
    }

    private static ProblemDetails? CheckMediaTypes(HttpRequest request) =>
        !MediaTypeHeaderValue.TryParse(request.ContentType, out var media)
        || !(media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase) || media.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase))
        || !(media.Charset.Length == 0 || media.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase))
            ? Problem(StatusCodes.Status415UnsupportedMediaType, "Unsupported media type", "The request body must be JSON in UTF-8, sent with 'Content-Type: application/json'.")
            // As Wolverine's reader: an Accept header must allow a JSON answer.
            : request.GetTypedHeaders().Accept is { Count: > 0 } accept && !accept.Any(a => a.MediaType.Value is "*/*" || a.MediaType.Value?.Contains("json") == true)
                ? Problem(StatusCodes.Status406NotAcceptable, "Not acceptable", "This endpoint answers in JSON: accept application/json.")
                : null;

    private static ProblemDetails? Parse<T>(ReadOnlySpan<byte> body, JsonSerializerOptions options, out T? value)
    {
        value = default;
        try
        {
            value = JsonSerializer.Deserialize<T>(body, options);
            return value is null ? NotAnObject() : null;
        }
        catch (UnstorableString e)
        {
            var field = JsonWords.FieldOf(e.Path);
            return FieldError(field, $"'{field}' {e.Message}.");
        }
        catch (JsonException e) when (e.InnerException is JsonException syntax)
        {
            return BadBody(body.Trim(" \t\r\n"u8).IsEmpty ? "A request body (a JSON object) is required."
                : $"The request body is not valid JSON (line {syntax.LineNumber + 1}, byte {syntax.BytePositionInLine + 1}).");
        }
        catch (JsonException e)
        {
            // The body itself is not an object (its path is the root), or one field holds the wrong JSON type.
            var field = JsonWords.FieldOf(e.Path);
            return field == "body" ? NotAnObject() : FieldError(field, JsonWords.Expected(options, typeof(T), field));
        }
    }

    private static ProblemDetails TooLarge() =>
        Problem(StatusCodes.Status413PayloadTooLarge, "Request body too large", $"The request body may be at most {MaxBodyBytes / 1024} KB.");

    // null, an array, a string, a number, or an object whose field names are not valid text.
    private static ProblemDetails NotAnObject() => BadBody("The request body must be a JSON object with this request's fields.");

    private static ProblemDetails BadBody(string detail) => Problem(StatusCodes.Status400BadRequest, "Unreadable request body", detail);

    private static ValidationProblemDetails FieldError(string field, string message) =>
        FieldErrors(new Dictionary<string, string[]> { [field] = [message] });

    private static async Task Reject(HttpContext context, ProblemDetails problem)
    {
        // A client error: worth a line, never a stack trace.
        context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(JsonBodyGuard).FullName!)
            .LogInformation("Refused the body of {Method} {Path}: {Status} {Reason}", context.Request.Method, context.Request.Path, problem.Status,
                problem is ValidationProblemDetails v ? string.Join("; ", v.Errors.SelectMany(e => e.Value)) : problem.Detail);
        await TypedResults.Problem(problem).ExecuteAsync(context);
    }

    private static JsonSerializerOptions Storable(JsonSerializerOptions api) => new(api) { Converters = { new StorableStrings() } };

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

    /// <summary>Where Wolverine would read a JSON body, <see cref="ReadAsync{T}"/> reads it (Wolverine's frame is internal: found by name).</summary>
    public sealed class GuardedBodies : IHttpPolicy
    {
        public void Apply(IReadOnlyList<HttpChain> chains, GenerationRules rules, IServiceContainer container)
        {
            foreach (var chain in chains)
            {
                var index = chain.Middleware.FindIndex(frame => frame.GetType().Name == "ReadJsonBody");
                if (index < 0) continue;
                var wolverines = chain.Middleware[index].Creates.Single();
                var guarded = new ReadBody(wolverines);
                chain.Middleware[index] = guarded;
                foreach (var call in chain.Middleware.OfType<MethodCall>().Append(chain.Method))
                    for (var i = 0; i < call.Arguments.Length; i++)
                        if (ReferenceEquals(call.Arguments[i], wolverines)) call.Arguments[i] = guarded.Body;
            }
        }
    }

    private sealed class ReadBody : AsyncFrame
    {
        public ReadBody(Variable replaced) => Body = new Variable(replaced.VariableType, replaced.Usage, this);

        public Variable Body { get; }

        public override void GenerateCode(GeneratedMethod method, ISourceWriter writer)
        {
            writer.Write($"var ({Body.Usage}, bodyContinue) = await {typeof(JsonBodyGuard).FullNameInCode()}.{nameof(ReadAsync)}<{Body.VariableType.FullNameInCode()}>(httpContext, JsonSerializerOptions);");
            writer.Write($"if (bodyContinue == {typeof(HandlerContinuation).FullNameInCode()}.{nameof(HandlerContinuation.Stop)}) return;");
            Next?.GenerateCode(method, writer);
        }
    }
}

/// <summary>JSON paths and expected value shapes in the API's words (camelCase fields, JSON types), never .NET names.</summary>
public static class JsonWords
{
    /// <summary>"$.items[0].quantity" -> "items[0].quantity"; the root is "body".</summary>
    public static string FieldOf(string? jsonPath) => (jsonPath ?? "$").TrimStart('$').TrimStart('.') is { Length: > 0 } field ? field : "body";

    /// <summary>What the field at <paramref name="field"/> of <paramref name="root"/> must hold, as a sentence (from the serializer's contract).</summary>
    public static string Expected(JsonSerializerOptions options, Type root, string field)
    {
        var info = options.GetTypeInfo(root);
        foreach (var segment in field.Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            var name = segment.Split('[')[0];
            if (name.Length > 0 && name != "body")
            {
                var property = info.Properties.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));
                if (property is null) return $"'{field}' is not a field of this request.";
                info = options.GetTypeInfo(property.PropertyType);
            }

            for (var i = 0; i < segment.Count(c => c == '[') && info.ElementType is { } element; i++) info = options.GetTypeInfo(element);
        }

        return $"'{field}' must be {Shape(info)}.";
    }

    private static string Shape(JsonTypeInfo info) => (Nullable.GetUnderlyingType(info.Type) ?? info.Type) switch
    {
        var type when type.IsEnum => "one of " + string.Join(", ", Enum.GetNames(type).Select(JsonNamingPolicy.SnakeCaseUpper.ConvertName)),
        var type when type == typeof(int) => $"a whole number from {int.MinValue} to {int.MaxValue}",
        var type when type == typeof(long) => $"a whole number from {long.MinValue} to {long.MaxValue}",
        var type when type == typeof(decimal) => "a number (at most 28 significant digits)",
        var type when type == typeof(string) => "a string",
        var type when type == typeof(bool) => "true or false",
        var type when type == typeof(DateTimeOffset) || type == typeof(DateTime) => "an ISO 8601 date and time",
        _ => info.Kind == JsonTypeInfoKind.Enumerable ? "an array" : "an object",
    };
}
