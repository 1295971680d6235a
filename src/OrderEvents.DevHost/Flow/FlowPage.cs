using FluentValidation;
using Microsoft.AspNetCore.Authorization;
using OrderEvents.DevHost.Embedded;
using OrderEvents.Infrastructure.Auth;
using OrderEvents.Infrastructure.Kafka;

namespace OrderEvents.DevHost.Flow;

/// <summary>
/// The live flow page at `/` (static files in wwwroot) and the helper endpoints under `/flow` it reads: one order
/// seen as its HTTP answer, its Kafka record, its notification and its lag, plus the outbox and the fault switches
/// (admins; they need the embedded broker). Plain minimal APIs: nothing here is part of the service.
/// The helpers live outside `/api`: the two streams are long-lived, and admission control must not count them.
/// </summary>
public static class FlowPage
{
    public static WebApplicationBuilder AddFlowPage(this WebApplicationBuilder builder, EmbeddedKafkaBroker? broker)
    {
        if (KafkaSettings.From(builder.Configuration).Enabled) builder.Services.AddSingleton<RecordTap>();
        if (broker is not null) builder.Services.AddSingleton<BrokerOutage>();
        builder.Services.AddValidatorsFromAssemblyContaining<BrokerOutageRequestValidator>(ServiceLifetime.Singleton);
        // HttpClient's logging writes four Information lines per request: a burst of 1,000 would bury the log.
        builder.Services.AddHttpClient(OrderBurstEndpoint.ClientName).RemoveAllLoggers();
        return builder;
    }

    public static WebApplication MapFlowPage(this WebApplication app)
    {
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

        var faults = signedIn.MapGroup("/faults").RequireAuthorization(new AuthorizeAttribute { Roles = AuthSetup.AdminRole });
        faults.MapPost("/broker-outage", BrokerOutageEndpoint.Start);
        faults.MapDelete("/broker-outage", BrokerOutageEndpoint.End);
        faults.MapPost("/burst", OrderBurstEndpoint.Post);
        return app;
    }

    /// <summary>Why the fault buttons cannot work here, or null when they can (the embedded broker runs in this process).</summary>
    public static string? WhyFaultButtonsCannotWork(IServiceProvider services) =>
        services.GetService<BrokerOutage>() is not null ? null
        : !services.GetRequiredService<KafkaSettings>().Enabled ? "Kafka is disabled (KAFKA_ENABLED=false): there is no broker to take down."
        : "Fault buttons need the embedded broker; this app uses KAFKA_BROKERS, which it must not break.";

    public sealed record FlowConfig(string Kafka, string Topic, FaultLimits Faults);

    public sealed record FaultLimits(bool Available, string? Reason, int MaxOutageSeconds, int MaxBurstOrders);

    /// <summary>What the page needs to know before anyone signs in: which broker, and whether the fault buttons can work.</summary>
    private static FlowConfig Config(KafkaSettings kafka, IServiceProvider services)
    {
        var reason = WhyFaultButtonsCannotWork(services);
        return new FlowConfig(
            !kafka.Enabled ? "disabled" : reason is null ? "embedded" : "external",
            KafkaSettings.OrderEventsTopic,
            new FaultLimits(reason is null, reason, BrokerOutageRequestValidator.MaxSeconds, OrderBurstRequestValidator.MaxOrders));
    }
}
