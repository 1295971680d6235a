using OrderEvents.DevHost.ApiReference;
using OrderEvents.DevHost.Embedded;
using OrderEvents.DevHost.Flow;

namespace OrderEvents.DevHost;

/// <summary>
/// `dotnet run --project src/OrderEvents.DevHost`: the service, composed exactly as its own Program does, in this
/// process, on the PostgreSQL and Kafka-protocol broker started here for whatever is not configured, with the flow page
/// at `/` and the API reference (OpenAPI, Scalar). The same settings and command line as the service, plus `kafka-broker`.
/// </summary>
/// <remarks>An explicit class rather than top-level statements: the service's `Program` keeps its name in the tests.</remarks>
public sealed class DevHostProgram
{
    public static async Task<int> Main(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.UseServiceSettings();
        builder.AddDevelopmentDefaults(args);
        var embedded = builder.AddEmbeddedInfrastructure(args);
        builder.AddOrderEvents(args);
        builder.AddFlowPage(embedded.Broker);
        builder.AddApiDocumentation();

        var app = builder.Build();
        embedded.AttachTo(app);
        app.MapOrderEvents();
        app.MapFlowPage();
        app.MapApiDocumentation();
        return await embedded.RunCommandsAsync(app, args);
    }
}
