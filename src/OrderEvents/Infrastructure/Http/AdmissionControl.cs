using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Mvc;

namespace OrderEvents.Infrastructure.Http;

/// <summary>Section "Admission": how many API requests run at once, and how long one may wait for its turn.</summary>
public sealed class AdmissionOptions
{
    public const string Section = "Admission";

    public int MaxConcurrentRequests { get; set; } = 32;
    public int QueueLimit { get; set; } = 2_000;
    public TimeSpan MaxQueueWait { get; set; } = TimeSpan.FromSeconds(2);
}

/// <summary>
/// Past its capacity the service used to take every request at once: each held a database connection while waiting
/// for CPU, until the pool ran dry and requests failed after the 2 s connect timeout or hung until the client gave up
/// (docs/benchmarks.md). A fixed number of API requests runs at a time (ConcurrencyLimiter); the rest wait in order,
/// holding nothing, and one that cannot start within MaxQueueWait gets a 503 with Retry-After at once.
/// Health probes and the long-lived notification stream are not counted.
/// </summary>
public sealed class AdmissionControl(RequestDelegate next, ConcurrencyLimiter limiter, AdmissionOptions options,
    IProblemDetailsService problemDetails, ILogger<AdmissionControl> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var path = context.Request.Path;
        if (!path.StartsWithSegments("/api") || path.StartsWithSegments("/api/notifications/stream"))
        {
            await next(context);
            return;
        }

        using var lease = await TryAcquireAsync(context);
        if (lease is { IsAcquired: true })
        {
            await next(context);
            return;
        }

        logger.LogWarning("{Method} {Path}: 503, the service is at capacity", context.Request.Method, path);
        context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        context.Response.Headers.RetryAfter = "1";
        await problemDetails.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = new ProblemDetails
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "Service busy",
                Detail = "The service is at capacity; retry after 1 second.",
            },
        });
    }

    /// <summary>A permit, a refused lease (queue full), or null when none came within MaxQueueWait.</summary>
    private async Task<RateLimitLease?> TryAcquireAsync(HttpContext context)
    {
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
        var options = builder.Configuration.GetSection(AdmissionOptions.Section).Get<AdmissionOptions>() ?? new AdmissionOptions();
        if (options.MaxConcurrentRequests < 1 || options.QueueLimit < 0 || options.MaxQueueWait <= TimeSpan.Zero)
            throw new InvalidOperationException($"{AdmissionOptions.Section}: MaxConcurrentRequests must be at least 1, QueueLimit at least 0 and MaxQueueWait positive.");
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = options.MaxConcurrentRequests,
            QueueLimit = options.QueueLimit,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        }));
        return builder;
    }
}
