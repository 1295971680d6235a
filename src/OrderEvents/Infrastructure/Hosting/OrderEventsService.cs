using System.Text.Json.Serialization;
using JasperFx;
using OrderEvents.Features.Auth;
using OrderEvents.Features.Notifications;
using OrderEvents.Features.Products;
using OrderEvents.Infrastructure.Cli;
using OrderEvents.Infrastructure.Health;
using OrderEvents.Infrastructure.Telemetry;

// The service's commands (replay, dlq-list, ...) are found from any entry assembly, the development host's too.
[assembly: JasperFxAssembly]

namespace OrderEvents;

/// <summary>
/// The one way to compose the service, used by its own Program and by the development host (src/OrderEvents.DevHost),
/// which adds only what development needs around it.
/// </summary>
public static class OrderEventsService
{
    public static WebApplicationBuilder AddOrderEvents(this WebApplicationBuilder builder, string[] args)
    {
        builder.QuietCommandDiscovery();
        builder.RequireInfrastructure();
        builder.ConfigureForCommand(args);
        builder.MaskSecretsInDescribe(args);
        builder.AddPersistence();
        builder.AddUsers();
        builder.AddProducts();
        builder.AddOrders();
        builder.AddNotifications();
        builder.AddMessaging();
        builder.AddAuth();
        builder.AddHealth();
        builder.AddTelemetry();
        builder.AddAuthRateLimits();
        builder.AddAdmissionControl();

        builder.Services.ConfigureHttpJsonOptions(json =>
        {
            // Enums travel as the contract spells them: "PENDING", "ACTIVE", ...
            json.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseUpper, allowIntegerValues: false));
            // A misspelled field ("quantiy") is a 400 naming it, not silently ignored.
            json.SerializerOptions.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        });
        // Validation errors name fields as the JSON does ("items[0].quantity"), not as the C# properties.
        ValidatorOptions.Global.PropertyNameResolver = Validation.ApiFieldName;
        ValidatorOptions.Global.DisplayNameResolver = Validation.ApiFieldName;
        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<LostRaceToProblemDetails>();
        builder.Services.AddExceptionHandler<ExceptionToProblemDetails>();
        builder.Services.AddValidatorsFromAssemblyContaining<Program>(ServiceLifetime.Singleton);
        builder.Services.AddWolverineHttp();
        return builder;
    }

    public static WebApplication MapOrderEvents(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        // Before anything reads the body: past capacity a request waits here, holding nothing, or gets a 503 at once.
        app.UseMiddleware<AdmissionControl>();
        app.UseBodySizeLimit();
        app.UseRateLimiter();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapHealthEndpoints();
        app.MapWolverineEndpoints(http =>
        {
            http.RequireAuthorizeOnAll();
            http.AddPolicy<JsonBodyGuard.GuardedBodies>();
            // '?page=abc' is a 400, not silently page 0.
            http.RejectUnparseableQueryValues = true;
        });
        return app;
    }
}
