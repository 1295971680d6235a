using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.OpenApi;

using OrderEvents.Infrastructure.Http;

namespace OrderEvents.DevHost.ApiReference;

/// <summary>
/// Adds to each operation the ProblemDetails responses it can give. Those that come from the shared pipeline are
/// derived from the endpoint itself: 400 for a body or parameters (validation, unparseable values), 413/415 for a
/// JSON body (JsonBodyGuard), 401 when a user is required, 403 when a role is, 429 on rate-limited routes, 503 for
/// a database outage. Those that come from a use case (404, 409, 412, ...) are declared on the endpoint with
/// [ProducesResponseType&lt;ProblemDetails&gt;(status)] and are copied here when the API explorer left them out.
/// </summary>
public sealed class ErrorResponses : IOpenApiOperationTransformer
{
    private const string ProblemJson = "application/problem+json";

    public Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var description = context.Description;
        var metadata = description.ActionDescriptor.EndpointMetadata;
        var path = "/" + description.RelativePath?.Split('?')[0].TrimStart('/');
        if (!path.StartsWith("/api/", StringComparison.Ordinal)) return Task.CompletedTask;

        var statuses = new SortedSet<int>();
        if (operation.RequestBody != null)
        {
            statuses.Add(StatusCodes.Status400BadRequest);
            statuses.Add(StatusCodes.Status413PayloadTooLarge);
            statuses.Add(StatusCodes.Status415UnsupportedMediaType);
        }
        if (operation.Parameters is { Count: > 0 }) statuses.Add(StatusCodes.Status400BadRequest);

        var authorize = metadata.OfType<IAuthorizeData>().ToList();
        if (authorize.Count > 0 && !metadata.OfType<IAllowAnonymous>().Any())
        {
            statuses.Add(StatusCodes.Status401Unauthorized);
            if (authorize.Any(a => !string.IsNullOrEmpty(a.Roles) || !string.IsNullOrEmpty(a.Policy)))
                statuses.Add(StatusCodes.Status403Forbidden);
        }
        if (metadata.OfType<EnableRateLimitingAttribute>().Any()) statuses.Add(StatusCodes.Status429TooManyRequests);
        if (!metadata.OfType<NoDatabaseAttribute>().Any()) statuses.Add(StatusCodes.Status503ServiceUnavailable);

        // Declared by the endpoint as ProblemDetails (Wolverine's own guesses carry no body type and are not copied).
        foreach (var declared in description.SupportedResponseTypes)
            if (declared.StatusCode >= 400 && declared.Type == typeof(ProblemDetails)) statuses.Add(declared.StatusCode);
        foreach (var declared in metadata.OfType<IProducesResponseTypeMetadata>())
            if (declared.StatusCode >= 400 && declared.Type == typeof(ProblemDetails)) statuses.Add(declared.StatusCode);

        operation.Responses ??= new OpenApiResponses();
        // Wolverine guesses an empty 404 for every GET; a list or "me" never gives one, so only what is known stays.
        foreach (var guessed in operation.Responses.Keys.Where(key => int.TryParse(key, out var status) && status >= 400 && !statuses.Contains(status)).ToList())
            operation.Responses.Remove(guessed);
        foreach (var status in statuses)
        {
            var key = status.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (operation.Responses.TryGetValue(key, out var existing) && existing.Content is { Count: > 0 }) continue;
            operation.Responses[key] = new OpenApiResponse
            {
                Description = ReasonPhrases.GetReasonPhrase(status),
                Content = new Dictionary<string, OpenApiMediaType>
                {
                    [ProblemJson] = new() { Schema = new OpenApiSchemaReference("ProblemDetails", context.Document) },
                },
            };
        }
        return Task.CompletedTask;
    }
}
