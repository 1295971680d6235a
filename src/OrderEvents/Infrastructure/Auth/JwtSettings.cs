using System.Text;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace OrderEvents.Infrastructure.Auth;

/// <summary>The "Jwt" configuration section (Jwt__SigningKey, Jwt__Issuer, Jwt__Audience, Jwt__TokenLifetime).</summary>
public sealed class JwtSettings
{
    public const string Section = "Jwt";

    /// <summary>Used only in Development when no key is configured; refused everywhere else.</summary>
    public const string DevelopmentSigningKey = "orderevents-development-only-signing-key-do-not-use-in-production";

    public string SigningKey { get; set; } = "";
    public string Issuer { get; set; } = "orderevents";
    public string Audience { get; set; } = "orderevents";
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromHours(1);

    // A method, not a property: the settings' validation reads every property, and an empty key cannot make one.
    public SymmetricSecurityKey SecurityKey() => new(Encoding.UTF8.GetBytes(SigningKey));

    /// <summary>Development runs with zero configuration; every other environment must bring its own key.</summary>
    public void ApplyDefaults(IHostEnvironment environment)
    {
        if (environment.IsDevelopment() && string.IsNullOrWhiteSpace(SigningKey)) SigningKey = DevelopmentSigningKey;
    }

    /// <summary>Why these settings cannot sign tokens in this environment, or null when they can.</summary>
    public string? Problem(IHostEnvironment environment)
    {
        if (string.IsNullOrWhiteSpace(SigningKey))
            return $"Jwt__SigningKey must be set (a secret of at least 32 bytes) in the {environment.EnvironmentName} environment.";
        if (SigningKey == DevelopmentSigningKey && !environment.IsDevelopment())
            return $"Jwt__SigningKey is the public development key, which is refused in the {environment.EnvironmentName} environment.";
        // HS256 needs a key of at least 256 bits.
        if (Encoding.UTF8.GetByteCount(SigningKey) < 32)
            return "Jwt__SigningKey must be at least 32 bytes long for HS256.";
        return null;
    }
}

/// <summary>Stops start-up (ValidateOnStart) with a clear message when the signing key is unusable.</summary>
public sealed class JwtSettingsValidation(IHostEnvironment environment) : IValidateOptions<JwtSettings>
{
    public ValidateOptionsResult Validate(string? name, JwtSettings options) =>
        options.Problem(environment) is { } problem ? ValidateOptionsResult.Fail(problem) : ValidateOptionsResult.Success;
}
