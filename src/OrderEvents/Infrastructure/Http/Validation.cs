using System.Linq.Expressions;
using System.Reflection;
using System.Text.Json;
using FluentValidation;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace OrderEvents.Infrastructure.Http;

public static class Validation
{
    /// <summary>
    /// Runs the request's FluentValidation validator; a failure becomes a 400 ValidationProblemDetails with
    /// the field errors, and stops Wolverine before the endpoint's Load/Post run.
    /// </summary>
    public static ProblemDetails Check<T>(this IValidator<T> validator, T? request)
    {
        if (request is null)
            return new ProblemDetails { Status = StatusCodes.Status400BadRequest, Title = "A request body is required" };

        var result = validator.Validate(request);
        if (result.IsValid) return WolverineContinue.NoProblems;

        var errors = result.Errors
            .GroupBy(error => error.PropertyName)
            .ToDictionary(group => group.Key, group => group.Select(error => error.ErrorMessage).Distinct().ToArray());
        return new ValidationProblemDetails(errors)
        {
            Status = StatusCodes.Status400BadRequest,
            Title = "One or more validation errors occurred.",
        };
    }

    public static ProblemDetails NotFound(string detail) =>
        new() { Status = StatusCodes.Status404NotFound, Title = "Not found", Detail = detail };

    public static ProblemDetails Conflict(string detail) =>
        new() { Status = StatusCodes.Status409Conflict, Title = "Conflict", Detail = detail };

    /// <summary>Writes <paramref name="problem"/> as the response of an exception handler (IExceptionHandler).</summary>
    public static ValueTask<bool> WriteAsync(this IProblemDetailsService service, HttpContext context, Exception exception, ProblemDetails problem)
    {
        context.Response.StatusCode = problem.Status ?? StatusCodes.Status500InternalServerError;
        return service.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, Exception = exception, ProblemDetails = problem });
    }

    /// <summary>FluentValidation names fields the way the JSON spells them (camelCase), so a 400 speaks the API's words.</summary>
    public static string? ApiFieldName(Type type, MemberInfo? member, LambdaExpression? expression) =>
        member is null ? null : JsonNamingPolicy.CamelCase.ConvertName(member.Name);
}

/// <summary>Marks an endpoint that never touches the database, so the API reference does not promise it a 503.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class NoDatabaseAttribute : Attribute;
