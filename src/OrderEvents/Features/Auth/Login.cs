using Marten;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.RateLimiting;

namespace OrderEvents.Features.Auth;

public sealed record LoginRequest(string Email, string Password);

public sealed record TokenResponse(string AccessToken, string TokenType, int ExpiresIn);

public sealed record CurrentUser(long Id, string Email, string Role);

public static class LoginEndpoint
{
    // Verifying against a throwaway hash when the email is unknown keeps both failures equally slow,
    // so response times do not reveal which emails are registered.
    private static readonly string UnknownUserHash = new PasswordHasher<User>().HashPassword(new User(), Guid.NewGuid().ToString());

    [WolverineBefore]
    public static ProblemDetails LimitAttemptsPerEmail(LoginRequest request, SignInAttempts attempts, HttpContext context) =>
        attempts.Check(request.Email, context);

    [AllowAnonymous]
    [EnableRateLimiting(AuthRateLimits.Policy)]
    [WolverinePost("/api/auth/login")]
    [ProducesResponseType<ProblemDetails>(StatusCodes.Status401Unauthorized, "application/problem+json")]
    public static async Task<Results<Ok<TokenResponse>, ProblemHttpResult>> Post(LoginRequest request, IQuerySession session, IPasswordHasher<User> hasher, TokenIssuer tokens)
    {
        var email = User.NormalizeEmail(request.Email ?? "");
        var user = await session.Query<User>().FirstOrDefaultAsync(u => u.Email == email);
        var verdict = hasher.VerifyHashedPassword(user ?? new User(), user?.PasswordHash ?? UnknownUserHash, request.Password ?? "");
        if (user is null || verdict == PasswordVerificationResult.Failed)
            return TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Invalid email or password");

        var (token, expiresIn) = tokens.Issue(user);
        return TypedResults.Ok(new TokenResponse(token, "Bearer", expiresIn));
    }
}

public static class CurrentUserEndpoint
{
    [WolverineGet("/api/auth/me")]
    [NoDatabase]
    public static CurrentUser Me(ClaimsPrincipal principal) =>
        new(principal.UserId(), principal.FindFirstValue("email") ?? "", principal.FindFirstValue("role") ?? AuthSetup.UserRole);
}
