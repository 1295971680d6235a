using System.Linq.Expressions;
using System.Reflection;
using System.Text.Json;

namespace OrderEvents.Infrastructure.Http;

/// <summary>FluentValidation names fields the way the JSON spells them (camelCase), so a 400 speaks the API's words.</summary>
public static class ApiFieldNames
{
    public static string? Resolve(Type type, MemberInfo? member, LambdaExpression? expression) =>
        member is null ? null : JsonNamingPolicy.CamelCase.ConvertName(member.Name);
}
