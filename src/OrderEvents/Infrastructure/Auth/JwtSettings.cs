using System.Text;
using Microsoft.IdentityModel.Tokens;

namespace OrderEvents.Infrastructure.Auth;

/// <summary>The "Jwt" configuration section (Jwt__SigningKey, Jwt__Issuer, Jwt__Audience, Jwt__TokenLifetime).</summary>
public sealed class JwtSettings : IValidatableObject
{
    public const string Section = "Jwt";

    /// <summary>The HS256 secret; required in every environment (the development host brings one of its own).</summary>
    public string SigningKey { get; set; } = "";
    public string Issuer { get; set; } = "orderevents";
    public string Audience { get; set; } = "orderevents";
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromHours(1);

    // A method, not a property: the settings' validation reads every property, and an empty key cannot make one.
    public SymmetricSecurityKey SecurityKey() => new(Encoding.UTF8.GetBytes(SigningKey));

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (string.IsNullOrWhiteSpace(SigningKey))
            yield return new ValidationResult("Jwt__SigningKey must be set (a secret of at least 32 bytes).", [nameof(SigningKey)]);
        // HS256 needs a key of at least 256 bits.
        else if (Encoding.UTF8.GetByteCount(SigningKey) < 32)
            yield return new ValidationResult("Jwt__SigningKey must be at least 32 bytes long for HS256.", [nameof(SigningKey)]);
    }
}
