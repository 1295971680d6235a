using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;

namespace OrderEvents.Infrastructure.Http;

/// <summary>Section "RateLimits:Auth": fixed windows for POST /api/auth/login and /api/auth/register.</summary>
public sealed class AuthRateLimitSettings
{
    public const string Section = "RateLimits:Auth";

    [Range(1, int.MaxValue)]
    public int PermitsPerAddress { get; set; } = 30;

    /// <summary>Per email, from any client: slows password guessing on one account.</summary>
    [Range(1, int.MaxValue)]
    public int PermitsPerEmail { get; set; } = 10;

    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>
/// Per client address: ASP.NET Core's rate limiter, policy <see cref="Policy"/> (both endpoints draw on one window).
/// Per email: <see cref="SignInAttempts"/>, asked by the endpoints once Wolverine has read the body. Both answer 429.
/// </summary>
public static class AuthRateLimits
{
    public const string Policy = "auth";

    public static WebApplicationBuilder AddAuthRateLimits(this WebApplicationBuilder builder)
    {
        builder.AddSettings<AuthRateLimitSettings>(AuthRateLimitSettings.Section);
        builder.Services.AddSingleton<SignInAttempts>();
        builder.Services.AddRateLimiter(_ => { });
        builder.Services.AddOptions<RateLimiterOptions>().Configure<AuthRateLimitSettings>((options, limits) =>
        {
            options.AddPolicy(Policy, context =>
                Window("address:" + (context.Connection.RemoteIpAddress?.ToString() ?? "unknown"), limits.PermitsPerAddress, limits.Window));
            options.OnRejected = (rejected, _) => new ValueTask(TypedResults.Problem(
                TooMany(rejected.HttpContext, rejected.Lease, limits.Window, "address " + rejected.HttpContext.Connection.RemoteIpAddress)).ExecuteAsync(rejected.HttpContext));
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

/// <summary>Sign-in and registration attempts per email (trimmed, any case), from any client address.</summary>
public sealed class SignInAttempts(IOptions<AuthRateLimitSettings> settings)
{
    private readonly PartitionedRateLimiter<string> _perEmail = PartitionedRateLimiter.Create<string, string>(
        email => AuthRateLimits.Window(email, settings.Value.PermitsPerEmail, settings.Value.Window));

    public ProblemDetails Check(string? email, HttpContext context)
    {
        if (string.IsNullOrWhiteSpace(email)) return WolverineContinue.NoProblems;
        using var lease = _perEmail.AttemptAcquire(email.Trim().ToLowerInvariant());
        return lease.IsAcquired ? WolverineContinue.NoProblems : AuthRateLimits.TooMany(context, lease, settings.Value.Window, "an email address");
    }
}
