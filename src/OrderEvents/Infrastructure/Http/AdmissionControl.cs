using System.Threading.RateLimiting;

namespace OrderEvents.Infrastructure.Http;

/// <summary>Section "Admission": how many API requests run at once, and how long one may wait for its turn.</summary>
public sealed class AdmissionSettings
{
    public const string Section = "Admission";

    [Range(1, 100_000)]
    public int MaxConcurrentRequests { get; set; } = 32;

    [Range(0, 1_000_000)]
    public int QueueLimit { get; set; } = 2_000;

    [Range(typeof(TimeSpan), "00:00:00.001", "00:10:00")]
    public TimeSpan MaxQueueWait { get; set; } = TimeSpan.FromSeconds(2);
}

/// <summary>
/// Past capacity every request started at once and held a database connection while waiting for CPU, until the pool
/// ran dry (docs/benchmarks.md). Here the rest wait in order, holding nothing, and one not started within MaxQueueWait
/// gets a 503 (ASP.NET Core's rate limiter middleware cannot bound the wait). Probes and the stream are not counted.
/// </summary>
public sealed class AdmissionControl(RequestDelegate next, ConcurrencyLimiter limiter, AdmissionSettings options, ILogger<AdmissionControl> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var path = context.Request.Path;
        var counted = path.StartsWithSegments("/api") && !path.StartsWithSegments("/api/notifications/stream");
        using var lease = counted ? await TryAcquireAsync(context) : null;
        if (!counted || lease is { IsAcquired: true })
        {
            await next(context);
            return;
        }

        logger.LogWarning("{Method} {Path}: 503, the service is at capacity", context.Request.Method, path);
        context.Response.Headers.RetryAfter = "1";
        await TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Service busy",
            detail: "The service is at capacity; retry after 1 second.").ExecuteAsync(context);
    }

    /// <summary>A permit, a refused lease (queue full), or null when none came within MaxQueueWait.</summary>
    private async ValueTask<RateLimitLease?> TryAcquireAsync(HttpContext context)
    {
        // Below capacity (nobody queued ahead) the permit is there at once: no timer, no token source per request.
        var immediate = limiter.AttemptAcquire();
        if (immediate.IsAcquired) return immediate;
        immediate.Dispose();
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        wait.CancelAfter(options.MaxQueueWait);
        try
        {
            return await limiter.AcquireAsync(1, wait.Token);
        }
        catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested)
        {
            return null;
        }
    }
}

public static class AdmissionControlSetup
{
    public static WebApplicationBuilder AddAdmissionControl(this WebApplicationBuilder builder)
    {
        builder.AddSettings<AdmissionSettings>(AdmissionSettings.Section);
        builder.Services.AddSingleton(services =>
        {
            var settings = services.GetRequiredService<AdmissionSettings>();
            return new ConcurrencyLimiter(new ConcurrencyLimiterOptions
            {
                PermitLimit = settings.MaxConcurrentRequests,
                QueueLimit = settings.QueueLimit,
                QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            });
        });
        return builder;
    }
}
