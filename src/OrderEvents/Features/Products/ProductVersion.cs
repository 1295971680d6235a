using Marten;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Net.Http.Headers;
using Wolverine.Http;

namespace OrderEvents.Features.Products;

/// <summary>
/// A product's ETag is its Marten document version (changes on every write). PATCH with If-Match applies only when
/// the product is still at that version; otherwise 412. Without If-Match a PATCH applies as before.
/// </summary>
public static class ProductVersion
{
    public static string ETag(IQuerySession session, Product product) =>
        session.VersionFor(product) is { } version ? $"\"{version:N}\"" : throw new InvalidOperationException("The product was not loaded by this session");

    /// <summary>Null when the request has no If-Match or it matches; else the 412 to answer.</summary>
    public static ProblemDetails Check(HttpRequest request, string currentETag)
    {
        if (request.Headers.IfMatch.Count == 0) return WolverineContinue.NoProblems;

        var current = new EntityTagHeaderValue(currentETag);
        var matches = EntityTagHeaderValue.TryParseList(request.Headers.IfMatch, out var tags)
                      && tags.Any(tag => tag.Equals(EntityTagHeaderValue.Any) || tag.Compare(current, useStrongComparison: true));
        return matches
            ? WolverineContinue.NoProblems
            : new ProblemDetails
            {
                Status = StatusCodes.Status412PreconditionFailed,
                Title = "Precondition failed",
                Detail = $"The product changed since the version in If-Match; its current ETag is {currentETag}. Reload it and retry.",
            };
    }
}
