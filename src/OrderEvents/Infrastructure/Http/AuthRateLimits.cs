using System.Text.Json;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.RateLimiting;

namespace OrderEvents.Infrastructure.Http;

/// <summary>Section "RateLimits:Auth": fixed windows for POST /api/auth/login and /api/auth/register.</summary>
public sealed class AuthRateLimitOptions
{
    public const string Section = "RateLimits:Auth";

    /// <summary>Attempts one client address may make per window (both endpoints together).</summary>
    public int PermitsPerAddress { get; set; } = 30;

    /// <summary>Attempts per email address per window, from any client (slows password guessing on one account).</summary>
    public int PermitsPerEmail { get; set; } = 10;

    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(1);
}

public static class AuthRateLimits
{
    private static readonly PathString[] LimitedPaths = ["/api/auth/login", "/api/auth/register"];

    /// <summary>Whether a route is rate limited (the OpenAPI document lists its 429).</summary>
    public static bool IsLimited(string path) => LimitedPaths.Contains(new PathString(path));

    /// <summary>ASP.NET Core's rate limiter, chained per client address and per email; 429 with Retry-After.</summary>
    public static WebApplicationBuilder AddAuthRateLimits(this WebApplicationBuilder builder)
    {
        var limits = builder.Configuration.GetSection(AuthRateLimitOptions.Section).Get<AuthRateLimitOptions>() ?? new AuthRateLimitOptions();
        if (limits.PermitsPerAddress < 1 || limits.PermitsPerEmail < 1 || limits.Window <= TimeSpan.Zero)
            throw new InvalidOperationException($"{AuthRateLimitOptions.Section}: PermitsPerAddress and PermitsPerEmail must be at least 1 and Window positive.");

        builder.Services.AddRateLimiter(options =>
        {
            options.GlobalLimiter = PartitionedRateLimiter.CreateChained(
                PartitionedRateLimiter.Create<HttpContext, string>(context => IsLimited(context)
                    ? Window("address:" + (context.Connection.RemoteIpAddress?.ToString() ?? "unknown"), limits.PermitsPerAddress, limits.Window)
                    : RateLimitPartition.GetNoLimiter("")),
                PartitionedRateLimiter.Create<HttpContext, string>(context => IsLimited(context) && EmailOf(context) is { } email
                    ? Window("email:" + email, limits.PermitsPerEmail, limits.Window)
                    : RateLimitPartition.GetNoLimiter("")));
            options.OnRejected = async (rejected, _) =>
            {
                var context = rejected.HttpContext;
                var retryAfter = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : limits.Window;
                context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                context.Response.Headers.RetryAfter = ((int)Math.Ceiling(retryAfter.TotalSeconds)).ToString();
                context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(nameof(AuthRateLimits))
                    .LogWarning("{Method} {Path}: 429, rate limit reached for {Address}", context.Request.Method, context.Request.Path, context.Connection.RemoteIpAddress);
                await context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
                {
                    HttpContext = context,
                    ProblemDetails = new ProblemDetails
                    {
                        Status = StatusCodes.Status429TooManyRequests,
                        Title = "Too many requests",
                        Detail = $"Too many sign-in or registration attempts; retry after {context.Response.Headers.RetryAfter} seconds.",
                    },
                });
            };
        });
        return builder;
    }

    private static bool IsLimited(HttpContext context) =>
        HttpMethods.IsPost(context.Request.Method) && LimitedPaths.Any(path => context.Request.Path.Equals(path, StringComparison.OrdinalIgnoreCase));

    private static RateLimitPartition<string> Window(string key, int permits, TimeSpan window) =>
        RateLimitPartition.GetFixedWindowLimiter(key, _ => new FixedWindowRateLimiterOptions { PermitLimit = permits, Window = window, QueueLimit = 0 });

    /// <summary>The normalized "email" of the body JsonBodyGuard has already checked and buffered.</summary>
    private static string? EmailOf(HttpContext context)
    {
        if (context.Features.Get<BufferedJsonBody>() is not { } body) return null;
        using var document = JsonDocument.Parse(body.Bytes);
        // Property names bind case-insensitively, so "Email" counts as the same field.
        var email = document.RootElement.EnumerateObject().FirstOrDefault(p => p.Name.Equals("email", StringComparison.OrdinalIgnoreCase)).Value;
        return email.ValueKind == JsonValueKind.String ? email.GetString()!.Trim().ToLowerInvariant() : null;
    }
}

/// <summary>A request body JsonBodyGuard has read, checked (UTF-8, valid JSON object) and kept in memory.</summary>
public sealed record BufferedJsonBody(byte[] Bytes);
