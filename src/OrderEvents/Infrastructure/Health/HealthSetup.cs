using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using OrderEvents.Infrastructure.Kafka;
using OrderEvents.Infrastructure.Postgres;

namespace OrderEvents.Infrastructure.Health;

public static class HealthSetup
{
    // Checks that gate /health/ready; /health/live runs none (it only proves the process answers).
    private const string ReadinessTag = "ready";

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
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteReport }).AllowAnonymous();
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = check => check.Tags.Contains(ReadinessTag), ResponseWriter = WriteReport })
            .AllowAnonymous();
        return app;
    }

    private static readonly JsonSerializerOptions ReportJson = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    /// <summary>
    /// The health report as JSON: overall status, and per check its status, duration and description. Exceptions are
    /// deliberately left out (driver messages can name hosts and users); each check writes a description fit to show.
    /// </summary>
    private static Task WriteReport(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        var body = new
        {
            status = report.Status.ToString(),
            totalDurationMs = Math.Round(report.TotalDuration.TotalMilliseconds, 1),
            checks = report.Entries.ToDictionary(
                entry => entry.Key,
                entry => new
                {
                    status = entry.Value.Status.ToString(),
                    durationMs = Math.Round(entry.Value.Duration.TotalMilliseconds, 1),
                    description = entry.Value.Description ?? DescribeFailure(entry.Value),
                    data = entry.Value.Data.Count == 0 ? null : entry.Value.Data,
                }),
        };
        return context.Response.WriteAsync(JsonSerializer.Serialize(body, ReportJson));
    }

    // Library checks (NpgSql) report failures through the exception only: name its type, not its text.
    private static string? DescribeFailure(HealthReportEntry entry) => entry.Exception switch
    {
        null => null,
        OperationCanceledException => "Timed out",
        { } exception => $"Failed: {exception.GetType().Name}",
    };
}
