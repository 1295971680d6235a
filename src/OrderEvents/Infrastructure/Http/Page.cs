using Marten;
using Marten.Pagination;

namespace OrderEvents.Infrastructure.Http;

/// <summary>
/// ?page=1&amp;pageSize=20. Out-of-range values are clamped (never an error): page to 1..<see cref="MaxPage"/>,
/// pageSize to 1..<see cref="MaxPageSize"/>, so the row offset (page-1)*pageSize always fits in an int.
/// Values that are not 32-bit integers are a 400 (RejectUnparseableQueryValues).
/// </summary>
public readonly record struct Paging(int Page, int PageSize)
{
    public const int DefaultPageSize = 20;
    public const int MaxPageSize = 100;
    public const int MaxPage = 10_000_000;

    public static Paging From(int? page, int? pageSize) =>
        new(Math.Clamp(page ?? 1, 1, MaxPage), Math.Clamp(pageSize ?? DefaultPageSize, 1, MaxPageSize));

    /// <summary>Rows before this page (computed in 64 bits: a huge page number must not overflow into a negative offset).</summary>
    public int Skip => (int)Math.Min((Page - 1L) * PageSize, int.MaxValue);
}

public sealed record Page<T>(IReadOnlyList<T> Items, long PageNumber, long PageSize, long TotalCount)
{
    public static Page<T> From<TSource>(IPagedList<TSource> source, Func<TSource, T> map) =>
        new(source.Select(map).ToList(), source.PageNumber, source.PageSize, source.TotalItemCount);
}

public static class PagingExtensions
{
    /// <summary>One page of a Marten query (plus the total count), mapped to the response shape.</summary>
    public static async Task<Page<TResponse>> ToPageAsync<TDocument, TResponse>(
        this IQueryable<TDocument> query, int? page, int? pageSize, Func<TDocument, TResponse> map, CancellationToken cancellationToken)
    {
        var paging = Paging.From(page, pageSize);
        var documents = await query.ToPagedListAsync(paging.Page, paging.PageSize, cancellationToken);
        return Page<TResponse>.From(documents, map);
    }
}
