using System.Text.Json;
using System.Text.Json.Serialization;
using FluentValidation;
using JasperFx;
using OrderEvents.Features.Auth;
using OrderEvents.Features.Flow;
using OrderEvents.Features.Notifications;
using OrderEvents.Features.Orders;
using OrderEvents.Features.Products;
using OrderEvents.Infrastructure.Auth;
using OrderEvents.Infrastructure.Health;
using OrderEvents.Infrastructure.Hosting;
using OrderEvents.Infrastructure.Cli;
using OrderEvents.Infrastructure.Embedded;
using OrderEvents.Infrastructure.Http;
using OrderEvents.Infrastructure.Kafka;
using OrderEvents.Infrastructure.Postgres;
using OrderEvents.Infrastructure.Telemetry;
using Wolverine.Http;

var builder = WebApplication.CreateBuilder(args);
builder.QuietCommandDiscovery();

builder.MaskSecretsInDescribe(args);
// Development's own PostgreSQL and Kafka broker where none is configured; registers nothing when both are.
builder.AddEmbeddedInfrastructure();
builder.AddPersistence();
builder.AddUsers();
builder.AddProducts();
builder.AddOrders();
builder.AddNotifications();
builder.AddMessaging();
builder.AddAuth();
builder.AddHealth();
builder.AddTelemetry();
builder.AddApiDocumentation();
builder.AddFlowPage();

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

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();
// Before anything reads the body: past capacity a request waits here, holding nothing, or gets a 503 at once.
app.UseMiddleware<AdmissionControl>();
app.UseMiddleware<JsonBodyGuard>();
app.UseRateLimiter();
app.UseAuthentication();
app.UseAuthorization();
app.MapHealthEndpoints();
app.MapApiDocumentation();
app.MapFlowPage();
app.MapWolverineEndpoints(http =>
{
    http.RequireAuthorizeOnAll();
    // '?page=abc' is a 400, not silently page 0.
    http.RejectUnparseableQueryValues = true;
});

return await app.RunCommandsAsync(args);

/// <summary>Entry point, visible to the Alba test host.</summary>
public partial class Program;
