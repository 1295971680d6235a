using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using OrderEvents.Infrastructure.Kafka;
using OrderEvents.Infrastructure.Postgres;

namespace OrderEvents.Infrastructure.Health;

public static class HealthSetup
{
    /// <summary>Checks that gate /health/ready; /health/live runs none (it only proves the process answers).</summary>
    public const string ReadinessTag = "ready";

    private static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(3);

    public static WebApplicationBuilder AddHealth(this WebApplicationBuilder builder)
    {
        var checks = builder.Services.AddHealthChecks()
            .AddNpgSql(sp => sp.GetRequiredService<PostgresConnection>().ConnectionString,
                name: "postgresql", tags: [ReadinessTag], timeout: CheckTimeout)
            .AddCheck<WolverineListenersHealthCheck>("wolverine-listeners", tags: [ReadinessTag]);
        if (KafkaSettings.From(builder.Configuration).Enabled)
        {
            builder.Services.AddSingleton<KafkaHealthCheck>();
            checks.AddCheck<KafkaHealthCheck>("kafka", tags: [ReadinessTag], timeout: CheckTimeout);
        }

        return builder;
    }

    /// <summary>Anonymous, JSON, 503 when a check is unhealthy (the framework's default status mapping).</summary>
    public static WebApplication MapHealthEndpoints(this WebApplication app)
    {
        app.MapHealthChecks("/health/live", new HealthCheckOptions
        {
            Predicate = _ => false,
            ResponseWriter = HealthReportWriter.WriteAsync,
        }).AllowAnonymous();
        app.MapHealthChecks("/health/ready", new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(ReadinessTag),
            ResponseWriter = HealthReportWriter.WriteAsync,
        }).AllowAnonymous();
        return app;
    }
}
