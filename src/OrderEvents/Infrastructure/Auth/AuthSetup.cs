using System.Security.Claims;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using OrderEvents.Features.Auth;
using OrderEvents.Infrastructure.Hosting;

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
        services.AddSingleton(new AdminEmails(adminEmails));
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

/// <summary>Users whose e-mail is listed in Auth__AdminEmails get the admin role at login.</summary>
public sealed class AdminEmails(IEnumerable<string> emails)
{
    private readonly HashSet<string> _emails = emails.Select(e => e.Trim().ToLowerInvariant()).ToHashSet();

    public bool Contains(string email) => _emails.Contains(email.ToLowerInvariant());
}
