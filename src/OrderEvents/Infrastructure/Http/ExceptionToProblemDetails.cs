using JasperFx;
using Marten.Exceptions;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Npgsql;

namespace OrderEvents.Infrastructure.Http;

/// <summary>
/// Turns the exceptions that mean "your request lost a race" or "your request is unreadable" into 4xx
/// ProblemDetails; anything else stays a 500 (and is logged by the framework).
/// </summary>
public sealed class ExceptionToProblemDetails(IProblemDetailsService problemDetails) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        var (status, title, detail) = Classify(exception);
        return status != 0
               && await problemDetails.WriteAsync(context, exception, new ProblemDetails { Status = status, Title = title, Detail = detail });
    }

    private static (int Status, string Title, string Detail) Classify(Exception exception) => exception switch
    {
        // Lost an optimistic-concurrency race (two pay/cancel requests on one order).
        ConcurrencyException =>
            (StatusCodes.Status409Conflict, "Conflict", "The resource was changed by another request at the same time; reload it and retry."),
        // Lost a uniqueness race (two registrations of one email): the pre-check passed for both.
        MartenCommandException { InnerException: PostgresException { SqlState: PostgresErrorCodes.UniqueViolation } }
            or DocumentAlreadyExistsException =>
            (StatusCodes.Status409Conflict, "Conflict", "The resource already exists."),
        // Kestrel's own request errors (e.g. body too large, bad encoding).
        BadHttpRequestException bad => (bad.StatusCode, "Bad request", bad.Message),
        _ => (0, "", ""),
    };
}
