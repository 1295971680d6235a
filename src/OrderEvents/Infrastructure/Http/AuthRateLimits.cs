using System.ComponentModel.DataAnnotations;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using OrderEvents.Infrastructure.Hosting;
using Wolverine.Http;

namespace OrderEvents.Infrastructure.Http;

/// <summary>Section "RateLimits:Auth": fixed windows for POST /api/auth/login and /api/auth/register.</summary>
public sealed class AuthRateLimitSettings
{
    public const string Section = "RateLimits:Auth";

    /// <summary>Attempts one client address may make per window (both endpoints together).</summary>
    [Range(1, int.MaxValue)]
    public int PermitsPerAddress { get; set; } = 30;

    /// <summary>Attempts per email address per window, from any client (slows password guessing on one account).</summary>
    [Range(1, int.MaxValue)]
    public int PermitsPerEmail { get; set; } = 10;

    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(1);
}

public static class AuthRateLimits
{
    /// <summary>The policy POST /api/auth/login and /api/auth/register name with [EnableRateLimiting] (the OpenAPI document lists its 429).</summary>
    public const string Policy = "auth";

    /// <summary>
    /// Per client address: ASP.NET Core's rate limiter, before Wolverine binds the request. Per email: the endpoints
    /// ask <see cref="SignInAttempts"/> once Wolverine has bound the request. Both answer 429 with Retry-After.
    /// </summary>
    public static WebApplicationBuilder AddAuthRateLimits(this WebApplicationBuilder builder)
    {
        builder.AddSettings<AuthRateLimitSettings>(AuthRateLimitSettings.Section);
        builder.Services.AddSingleton<SignInAttempts>();
        builder.Services.AddRateLimiter(_ => { });
        builder.Services.AddOptions<RateLimiterOptions>().Configure<AuthRateLimitSettings>((options, limits) =>
        {
            // One policy name: both endpoints draw on the same window per address.
            options.AddPolicy(Policy, context =>
                Window("address:" + (context.Connection.RemoteIpAddress?.ToString() ?? "unknown"), limits.PermitsPerAddress, limits.Window));
            options.OnRejected = (rejected, _) =>
            {
                var context = rejected.HttpContext;
                var problem = TooMany(context, rejected.Lease, limits.Window, "address " + context.Connection.RemoteIpAddress);
                return new ValueTask(TypedResults.Problem(problem).ExecuteAsync(context));
            };
        });
        return builder;
    }

    internal static RateLimitPartition<string> Window(string key, int permits, TimeSpan window) =>
        RateLimitPartition.GetFixedWindowLimiter(key, _ => new FixedWindowRateLimiterOptions { PermitLimit = permits, Window = window, QueueLimit = 0 });

    /// <summary>The 429 for a refused lease: Retry-After from the limiter (else the whole window), and a warning.</summary>
    internal static ProblemDetails TooMany(HttpContext context, RateLimitLease lease, TimeSpan window, string who)
    {
        var retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : window;
        context.Response.Headers.RetryAfter = ((int)Math.Ceiling(retryAfter.TotalSeconds)).ToString();
        context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(nameof(AuthRateLimits))
            .LogWarning("{Method} {Path}: 429, rate limit reached for {Who}", context.Request.Method, context.Request.Path, who);
        return new ProblemDetails
        {
            Status = StatusCodes.Status429TooManyRequests,
            Title = "Too many requests",
            Detail = $"Too many sign-in or registration attempts; retry after {context.Response.Headers.RetryAfter} seconds.",
        };
    }
}

/// <summary>
/// Sign-in and registration attempts per email, from any client address. The endpoints check the email of the request
/// Wolverine bound (a [WolverineBefore] step), so this limit needs nothing from any other middleware.
/// </summary>
public sealed class SignInAttempts(IOptions<AuthRateLimitSettings> settings)
{
    private readonly PartitionedRateLimiter<string> _perEmail = PartitionedRateLimiter.Create<string, string>(
        email => AuthRateLimits.Window(email, settings.Value.PermitsPerEmail, settings.Value.Window));

    /// <summary>No problem, or the 429 once <paramref name="email"/> (trimmed, any case) used up its window.</summary>
    public ProblemDetails Check(string? email, HttpContext context)
    {
        if (string.IsNullOrWhiteSpace(email)) return WolverineContinue.NoProblems;
        using var lease = _perEmail.AttemptAcquire(email.Trim().ToLowerInvariant());
        return lease.IsAcquired ? WolverineContinue.NoProblems : AuthRateLimits.TooMany(context, lease, settings.Value.Window, "an email address");
    }
}
