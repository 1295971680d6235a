using System.Text.Json;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace OrderEvents.Infrastructure.Health;

/// <summary>
/// The health report as JSON: overall status, and per check its status, duration and description. Exceptions are
/// deliberately left out (driver messages can name hosts and users); each check writes a description fit to show.
/// </summary>
public static class HealthReportWriter
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static Task WriteAsync(HttpContext context, HealthReport report)
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
        return context.Response.WriteAsync(JsonSerializer.Serialize(body, Json));
    }

    // Library checks (NpgSql) report failures through the exception only: name its type, not its text.
    private static string? DescribeFailure(HealthReportEntry entry) => entry.Exception switch
    {
        null => null,
        OperationCanceledException => "Timed out",
        { } exception => $"Failed: {exception.GetType().Name}",
    };
}
