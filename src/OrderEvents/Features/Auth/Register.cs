using Marten;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.RateLimiting;

namespace OrderEvents.Features.Auth;

public sealed record RegisterRequest(string Email, string Password);

public sealed record RegisteredUser(long Id, string Email);

public sealed class RegisterRequestValidator : AbstractValidator<RegisterRequest>
{
    public RegisterRequestValidator()
    {
        RuleFor(x => x.Email).NotEmpty().MaximumLength(254).EmailAddress();
        RuleFor(x => x.Password).NotEmpty().MinimumLength(8).MaximumLength(128);
    }
}

public static class RegisterEndpoint
{
    [WolverineBefore]
    public static ProblemDetails LimitAttemptsPerEmail(RegisterRequest request, SignInAttempts attempts, HttpContext context) =>
        attempts.Check(request.Email, context);

    public static async Task<ProblemDetails> ValidateAsync(RegisterRequest request, IValidator<RegisterRequest> validator, IQuerySession session)
    {
        var problems = validator.Check(request);
        if (problems != WolverineContinue.NoProblems) return problems;

        // The unique index on Email still guards the race between two registrations (409 as well).
        var email = User.NormalizeEmail(request.Email);
        return await session.Query<User>().AnyAsync(user => user.Email == email)
            ? Validation.Conflict($"The email '{email}' is already registered.")
            : WolverineContinue.NoProblems;
    }

    [AllowAnonymous]
    [EnableRateLimiting(AuthRateLimits.Policy)]
    [WolverinePost("/api/auth/register")]
    [ProducesResponseType<ProblemDetails>(StatusCodes.Status409Conflict, "application/problem+json")]
    public static Created<RegisteredUser> Post(RegisterRequest request, IDocumentSession session, IPasswordHasher<User> hasher, TimeProvider clock)
    {
        var user = new User { Email = User.NormalizeEmail(request.Email), CreatedAt = clock.GetUtcNow() };
        user.PasswordHash = hasher.HashPassword(user, request.Password);
        session.Insert(user); // assigns the numeric id
        return TypedResults.Created("/api/auth/me", new RegisteredUser(user.Id, user.Email));
    }
}
