using Microsoft.AspNetCore.Authorization;
using OrderEvents.Infrastructure.Auth;
using OrderEvents.Infrastructure.Kafka;

namespace OrderEvents.Features.Flow;

/// <summary>
/// The live flow page at `/` (static files in wwwroot) and the helper endpoints under `/flow` it reads: one order
/// seen as its HTTP answer, its Kafka record, its notification and its lag, plus the outbox and two fault buttons.
/// On in Development; elsewhere only with FlowPage:Enabled=true. When off nothing is mapped: `/` and `/flow/*` are 404.
/// The fault buttons exist in Development only (admins, embedded broker).
/// The helpers live outside `/api`: the two streams are long-lived, and admission control must not count them.
/// </summary>
public static class FlowPage
{
    public const string EnabledSetting = "FlowPage:Enabled";

    public static bool IsEnabled(IConfiguration configuration, IHostEnvironment environment) =>
        configuration.GetValue(EnabledSetting, environment.IsDevelopment());

    public static WebApplicationBuilder AddFlowPage(this WebApplicationBuilder builder)
    {
        if (!IsEnabled(builder.Configuration, builder.Environment)) return builder;

        var kafka = KafkaSettings.From(builder.Configuration);
        if (kafka.Enabled) builder.Services.AddSingleton<RecordTap>();
        if (WhyFaultButtonsCannotWork(builder.Environment, kafka) is null) builder.Services.AddSingleton<BrokerOutage>();
        // HttpClient's logging writes four Information lines per request: a burst of 1,000 would bury the log.
        builder.Services.AddHttpClient(OrderBurstEndpoint.ClientName).RemoveAllLoggers();
        return builder;
    }

    public static WebApplication MapFlowPage(this WebApplication app)
    {
        if (!IsEnabled(app.Configuration, app.Environment)) return app;

        app.UseDefaultFiles();
        app.UseStaticFiles(new StaticFileOptions
        {
            OnPrepareResponse = file =>
            {
                var headers = file.Context.Response.Headers;
                headers.CacheControl = "no-cache";
                // The page's own files only: a script, style, font or request to any other host is refused by the browser.
                headers.ContentSecurityPolicy =
                    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";
            },
        });

        var flow = app.MapGroup("/flow").ExcludeFromDescription();
        flow.MapGet("/config", Config).AllowAnonymous();

        var signedIn = flow.MapGroup("").RequireAuthorization();
        signedIn.MapGet("/records", RecordStreamEndpoint.Get);
        signedIn.MapGet("/pipeline", PipelineEndpoint.Get);

        if (app.Environment.IsDevelopment())
        {
            var faults = signedIn.MapGroup("/faults").RequireAuthorization(new AuthorizeAttribute { Roles = AuthSetup.AdminRole });
            faults.MapPost("/broker-outage", BrokerOutageEndpoint.Start);
            faults.MapDelete("/broker-outage", BrokerOutageEndpoint.End);
            faults.MapPost("/burst", OrderBurstEndpoint.Post);
        }

        return app;
    }

    /// <summary>Why the fault buttons cannot work here, or null when they can.</summary>
    public static string? WhyFaultButtonsCannotWork(IHostEnvironment environment, KafkaSettings kafka) =>
        !environment.IsDevelopment() ? "Fault buttons exist in Development only."
        : !kafka.Enabled ? "Kafka is disabled (KAFKA_ENABLED=false): there is no broker to take down."
        : !kafka.UseEmbeddedBroker ? "Fault buttons need the embedded broker; this app uses KAFKA_BROKERS, which it must not break."
        : null;

    public sealed record FlowConfig(string Kafka, string Topic, FaultLimits Faults);

    public sealed record FaultLimits(bool Available, string? Reason, int MaxOutageSeconds, int MaxBurstOrders);

    /// <summary>What the page needs to know before anyone signs in: which broker, and whether the fault buttons can work.</summary>
    private static FlowConfig Config(KafkaSettings kafka, IHostEnvironment environment)
    {
        var reason = WhyFaultButtonsCannotWork(environment, kafka);
        return new FlowConfig(
            !kafka.Enabled ? "disabled" : kafka.UseEmbeddedBroker ? "embedded" : "external",
            KafkaSettings.OrderEventsTopic,
            new FaultLimits(reason is null, reason, BrokerOutageRequestValidator.MaxSeconds, OrderBurstRequestValidator.MaxOrders));
    }
}
