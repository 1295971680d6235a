using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using Scalar.AspNetCore;

namespace OrderEvents.DevHost.ApiReference;

/// <summary>
/// The service's OpenAPI document (Microsoft.AspNetCore.OpenApi, at /openapi/v1.json) and the interactive Scalar page
/// (/scalar), served by the development host. Wolverine.Http endpoints publish their metadata to ASP.NET's API explorer,
/// so they appear like any minimal API endpoint.
/// </summary>
public static class ApiDocumentation
{
    public const string DocumentPath = "/openapi/v1.json";
    public const string ScalarPath = "/scalar";
    public const string BearerScheme = "Bearer";

    public static WebApplicationBuilder AddApiDocumentation(this WebApplicationBuilder builder)
    {
        builder.Services.AddOpenApi(options =>
        {
            options.AddDocumentTransformer<BearerSecurityScheme>();
            options.AddOperationTransformer<BearerRequirementOnAuthorizedOperations>();
            options.AddOperationTransformer<ErrorResponses>();
        });
        return builder;
    }

    public static WebApplication MapApiDocumentation(this WebApplication app)
    {
        app.MapOpenApi().AllowAnonymous();
        app.MapScalarApiReference(ScalarPath, scalar => scalar
                .WithTitle("OrderEvents API")
                // A small API: every operation visible at once instead of one collapsed group per endpoint class.
                .ExpandAllTags()
                // Self-contained: no fonts from fonts.scalar.com (the page works offline and behind strict firewalls).
                .DisableDefaultFonts()
                .AddPreferredSecuritySchemes(BearerScheme))
            .AllowAnonymous();
        return app;
    }

    /// <summary>Declares the JWT bearer scheme the API's tokens use (POST /api/auth/login hands them out).</summary>
    private sealed class BearerSecurityScheme : IOpenApiDocumentTransformer
    {
        public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
        {
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes[BearerScheme] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                BearerFormat = "JWT",
                Description = "The accessToken from POST /api/auth/login",
            };
            return Task.CompletedTask;
        }
    }

    /// <summary>Operations that require an authenticated user say so; anonymous ones (login, the catalog) do not.</summary>
    private sealed class BearerRequirementOnAuthorizedOperations : IOpenApiOperationTransformer
    {
        public Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
        {
            var metadata = context.Description.ActionDescriptor.EndpointMetadata;
            var requiresUser = metadata.OfType<IAuthorizeData>().Any() && !metadata.OfType<IAllowAnonymous>().Any();
            if (!requiresUser) return Task.CompletedTask;

            operation.Security ??= [];
            operation.Security.Add(new OpenApiSecurityRequirement
            {
                [new OpenApiSecuritySchemeReference(BearerScheme, context.Document)] = [],
            });
            return Task.CompletedTask;
        }
    }
}
