using System.Text;
using Microsoft.IdentityModel.Tokens;

namespace OrderEvents.Infrastructure.Auth;

public sealed class JwtSettings
{
    /// <summary>Used outside Production when no key is configured; refused in Production.</summary>
    public const string DevelopmentSigningKey = "orderevents-development-only-signing-key-do-not-use-in-production";

    public string SigningKey { get; set; } = "";
    public string Issuer { get; set; } = "orderevents";
    public string Audience { get; set; } = "orderevents";
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromHours(1);

    public SymmetricSecurityKey SecurityKey => new(Encoding.UTF8.GetBytes(SigningKey));

    public static JwtSettings From(IConfiguration configuration, IHostEnvironment environment)
    {
        var settings = configuration.GetSection("Jwt").Get<JwtSettings>() ?? new JwtSettings();
        if (environment.IsProduction())
        {
            if (string.IsNullOrWhiteSpace(settings.SigningKey) || settings.SigningKey == DevelopmentSigningKey)
                throw new InvalidOperationException(
                    "Jwt__SigningKey must be set to a secret of at least 32 bytes in Production (the development key is refused).");
        }
        else if (string.IsNullOrWhiteSpace(settings.SigningKey))
        {
            settings.SigningKey = DevelopmentSigningKey;
        }

        // HS256 needs a key of at least 256 bits.
        if (Encoding.UTF8.GetByteCount(settings.SigningKey) < 32)
            throw new InvalidOperationException("Jwt__SigningKey must be at least 32 bytes long for HS256.");
        return settings;
    }
}
