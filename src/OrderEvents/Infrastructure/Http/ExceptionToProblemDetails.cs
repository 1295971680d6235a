using JasperFx;
using Marten.Exceptions;
using Microsoft.AspNetCore.Diagnostics;

namespace OrderEvents.Infrastructure.Http;

/// <summary>
/// "Your request lost a race / is unreadable" or "the database is unavailable" as ProblemDetails (4xx, or 503 with
/// Retry-After), logged without stack traces; anything else stays a 500. No body carries a database message or a stack.
/// </summary>
public sealed class ExceptionToProblemDetails(IProblemDetailsService problemDetails, ILogger<ExceptionToProblemDetails> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        var (status, title, detail) = Classify(context, exception);
        if (status == 0) return false;

        var outage = status == StatusCodes.Status503ServiceUnavailable;
        if (outage) context.Response.Headers.RetryAfter = DatabaseOutage.RetryAfterSeconds.ToString();
        logger.Log(outage ? LogLevel.Warning : LogLevel.Information, "{Method} {Path}: {Status} {Title} ({Reason})", context.Request.Method,
            context.Request.Path, status, title, outage ? exception.GetBaseException().Message : exception.GetType().Name);
        return await problemDetails.WriteAsync(context, exception, new ProblemDetails { Status = status, Title = title, Detail = detail });
    }

    private static (int Status, string Title, string Detail) Classify(HttpContext context, Exception exception) => exception switch
    {
        // The client sent If-Match and another write committed between our version check and our commit.
        ConcurrencyException when context.Request.Headers.IfMatch.Count > 0 =>
            (StatusCodes.Status412PreconditionFailed, "Precondition failed", "The resource was changed since the version named in If-Match; reload it and retry."),
        // Lost an optimistic-concurrency race (two pay/cancel requests on one order).
        ConcurrencyException =>
            (StatusCodes.Status409Conflict, "Conflict", "The resource was changed by another request at the same time; reload it and retry."),
        // Lost a uniqueness race (two registrations of one email): the pre-check passed for both.
        MartenCommandException { InnerException: PostgresException { SqlState: PostgresErrorCodes.UniqueViolation } }
            or DocumentAlreadyExistsException =>
            (StatusCodes.Status409Conflict, "Conflict", "The resource already exists."),
        // Kestrel's own request errors (e.g. body too large, bad encoding).
        BadHttpRequestException bad => (bad.StatusCode, "Bad request", bad.Message),
        _ when DatabaseOutage.IsOutage(exception) =>
            (StatusCodes.Status503ServiceUnavailable, "Service unavailable", "The database is unavailable; retry after the time in Retry-After."),
        _ => (0, "", ""),
    };
}
