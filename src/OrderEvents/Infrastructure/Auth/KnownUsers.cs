using System.Runtime.ExceptionServices;
using Marten;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Caching.Memory;
using OrderEvents.Features.Auth;

namespace OrderEvents.Infrastructure.Auth;

/// <summary>
/// A correctly signed token is only good when its "sub" names an existing user (a deleted one or a made-up subject is a
/// 401). Known ids are cached briefly, so an authenticated request costs no extra query in the common case.
/// </summary>
public sealed class KnownUsers(IMemoryCache cache, IDocumentStore store)
{
    public async ValueTask<bool> ExistsAsync(long userId, CancellationToken cancellationToken)
    {
        var key = (nameof(KnownUsers), userId);
        if (cache.TryGetValue(key, out _)) return true;

        await using var session = store.QuerySession();
        if (!await session.Query<User>().AnyAsync(user => user.Id == userId, cancellationToken)) return false;
        cache.Set(key, true, TimeSpan.FromMinutes(5));
        return true;
    }

    /// <summary>The numeric subject, in its canonical spelling only ("42", never "042": the service issues no other).</summary>
    public static long? Subject(ClaimsPrincipal? principal) =>
        principal?.FindFirstValue("sub") is { } subject && long.TryParse(subject, NumberStyles.None, null, out var id) && id > 0
        && subject == id.ToString(CultureInfo.InvariantCulture) ? id : null;

    /// <summary>JwtBearer events: check the subject after the signature, and keep a database outage a 503 (not a 401).</summary>
    public static JwtBearerEvents Events() => new()
    {
        OnTokenValidated = async context =>
        {
            try
            {
                if (Subject(context.Principal) is not { } userId) context.Fail("The token has no numeric subject.");
                else if (!await context.HttpContext.RequestServices.GetRequiredService<KnownUsers>().ExistsAsync(userId, context.HttpContext.RequestAborted))
                    context.Fail("The token's subject is not a user.");
            }
            catch (Exception e) when (DatabaseOutage.IsOutage(e))
            {
                // JwtBearer would log any exception as an error and answer 401; remember it and answer 503 at the challenge.
                context.HttpContext.Items[typeof(DatabaseOutage)] = e;
                context.Fail("The database is unavailable.");
            }
        },
        OnChallenge = context =>
        {
            if (context.HttpContext.Items[typeof(DatabaseOutage)] is not Exception outage) return Task.CompletedTask;
            context.HandleResponse();
            ExceptionDispatchInfo.Throw(outage); // ExceptionToProblemDetails turns it into the 503 with Retry-After
            return Task.CompletedTask;
        },
    };
}
