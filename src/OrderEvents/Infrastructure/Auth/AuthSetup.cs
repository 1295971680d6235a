using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Identity;
using Microsoft.IdentityModel.Tokens;
using OrderEvents.Features.Auth;

namespace OrderEvents.Infrastructure.Auth;

public static class AuthSetup
{
    public const string AdminRole = "admin";
    public const string UserRole = "user";

    public static WebApplicationBuilder AddAuth(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        builder.AddSettings<JwtSettings>(JwtSettings.Section);

        var adminEmails = builder.Configuration.GetSection("Auth:AdminEmails").Get<string[]>()
                          ?? builder.Configuration["Auth:AdminEmails"]?.Split([',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                          ?? [];
        // Registering an address proves nothing about owning it: only Development grants the role by e-mail.
        var development = builder.Environment.IsDevelopment();
        services.AddSingleton(new DevelopmentAdminEmails(development ? adminEmails : []));
        if (!development && adminEmails.Length > 0) services.AddHostedService<IgnoredAdminEmails>();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<IPasswordHasher<User>, PasswordHasher<User>>();
        services.AddSingleton<TokenIssuer>();
        services.AddMemoryCache();
        services.AddSingleton<KnownUsers>();

        services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer();
        services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .Configure<IOptions<JwtSettings>>((options, settings) =>
            {
                var jwt = settings.Value;
                // Keep the token's own claim names ("sub", "role") instead of the legacy SOAP URIs.
                options.MapInboundClaims = false;
                options.Events = KnownUsers.Events();
                options.TokenValidationParameters = new TokenValidationParameters
                {
                    ValidIssuer = jwt.Issuer,
                    ValidAudience = jwt.Audience,
                    IssuerSigningKey = jwt.SecurityKey(),
                    ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
                    NameClaimType = "sub",
                    RoleClaimType = "role",
                    ClockSkew = TimeSpan.FromSeconds(30),
                };
            });
        services.AddAuthorization();
        return builder;
    }

    /// <summary>The authenticated user's numeric id (the token's "sub").</summary>
    public static long UserId(this ClaimsPrincipal principal) =>
        long.Parse(principal.FindFirstValue("sub") ?? throw new InvalidOperationException("The principal has no 'sub' claim"));
}

/// <summary>Development only (empty elsewhere): Auth__AdminEmails get the admin role at login, for the flow page's fault buttons.</summary>
public sealed class DevelopmentAdminEmails(IEnumerable<string> emails)
{
    private readonly HashSet<string> _emails = emails.Select(User.NormalizeEmail).ToHashSet();

    public bool Contains(string email) => _emails.Contains(User.NormalizeEmail(email));
}

/// <summary>Auth__AdminEmails set outside Development grants nothing; the operator who set it reads why at start-up.</summary>
public sealed class IgnoredAdminEmails(ILogger<IgnoredAdminEmails> logger, IHostEnvironment environment) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        logger.LogWarning(
            "Auth__AdminEmails is ignored in the {Environment} environment (it grants the admin role in Development only): " +
            "registering an address proves nothing about owning it. Give a registered user the admin role with " +
            "`dotnet OrderEvents.dll admin-grant --email <address>`.", environment.EnvironmentName);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
