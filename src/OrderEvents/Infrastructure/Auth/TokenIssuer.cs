using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using OrderEvents.Features.Auth;

namespace OrderEvents.Infrastructure.Auth;

// Reads the settings per token: a Release build creates this while mapping routes, also for `help`, which validates none.
public sealed class TokenIssuer(IOptions<JwtSettings> options, DevelopmentAdminEmails developmentAdmins, TimeProvider clock)
{
    private readonly JsonWebTokenHandler _handler = new();

    public (string Token, int ExpiresInSeconds) Issue(User user)
    {
        var settings = options.Value;
        var now = clock.GetUtcNow().UtcDateTime;
        var token = _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = settings.Issuer,
            Audience = settings.Audience,
            IssuedAt = now,
            NotBefore = now,
            Expires = now + settings.TokenLifetime,
            SigningCredentials = new SigningCredentials(settings.SecurityKey(), SecurityAlgorithms.HmacSha256),
            Subject = new ClaimsIdentity(
            [
                new Claim(JwtRegisteredClaimNames.Sub, user.Id.ToString()),
                new Claim(JwtRegisteredClaimNames.Email, user.Email),
                new Claim("role", user.IsAdmin || developmentAdmins.Contains(user.Email) ? AuthSetup.AdminRole : AuthSetup.UserRole),
            ]),
        });
        return (token, (int)settings.TokenLifetime.TotalSeconds);
    }
}
