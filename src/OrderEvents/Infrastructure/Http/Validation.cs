using System.Linq.Expressions;
using System.Reflection;

namespace OrderEvents.Infrastructure.Http;

public static class Validation
{
    /// <summary>The request's FluentValidation result: a 400 naming each field, which stops Wolverine before Load/Post.</summary>
    public static ProblemDetails Check<T>(this IValidator<T> validator, T request) =>
        validator.Validate(request) is { IsValid: false } result ? FieldErrors(result.ToDictionary()) : WolverineContinue.NoProblems;

    /// <summary>A 400 listing what is wrong with each field, by its JSON name.</summary>
    public static ValidationProblemDetails FieldErrors(IDictionary<string, string[]> errors) =>
        new(errors) { Status = StatusCodes.Status400BadRequest, Title = "One or more validation errors occurred." };

    public static ProblemDetails Problem(int status, string title, string detail) => new() { Status = status, Title = title, Detail = detail };

    public static ProblemDetails NotFound(string detail) => Problem(StatusCodes.Status404NotFound, "Not found", detail);

    public static ProblemDetails Conflict(string detail) => Problem(StatusCodes.Status409Conflict, "Conflict", detail);

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
