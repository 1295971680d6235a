using System.Text.Json;
using System.Text.Json.Serialization;
using FluentValidation;
using JasperFx;
using OrderEvents.Features.Orders;
using OrderEvents.Infrastructure.Auth;
using OrderEvents.Infrastructure.Cli;
using OrderEvents.Infrastructure.Http;
using OrderEvents.Infrastructure.Kafka;
using OrderEvents.Infrastructure.Postgres;
using Wolverine.Http;

var builder = WebApplication.CreateBuilder(args);
builder.QuietCommandDiscovery();

builder.AddPersistence();
builder.AddMessaging();
builder.AddAuth();
builder.AddApiDocumentation();

builder.Services.ConfigureHttpJsonOptions(json =>
    // Enums travel as the contract spells them: "PENDING", "ACTIVE", ...
    json.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseUpper, allowIntegerValues: false)));
builder.Services.AddProblemDetails();
builder.Services.AddExceptionHandler<LostRaceToProblemDetails>();
builder.Services.AddExceptionHandler<ExceptionToProblemDetails>();
builder.Services.AddValidatorsFromAssemblyContaining<Program>(ServiceLifetime.Singleton);
builder.Services.AddWolverineHttp();

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseAuthentication();
app.UseAuthorization();
app.MapApiDocumentation();
app.MapWolverineEndpoints(http =>
{
    http.RequireAuthorizeOnAll();
    // '?page=abc' is a 400, not silently page 0.
    http.RejectUnparseableQueryValues = true;
});

return await app.RunJasperFxCommands(args);

/// <summary>Entry point, visible to the Alba test host.</summary>
public partial class Program;
