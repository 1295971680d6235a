using Marten;
using Marten.Pagination;

namespace OrderEvents.Infrastructure.Http;

/// <summary>?page=1&amp;pageSize=20 (max 100) with sane clamping of nonsense values.</summary>
public readonly record struct Paging(int Page, int PageSize)
{
    public const int DefaultPageSize = 20;
    public const int MaxPageSize = 100;

    public static Paging From(int? page, int? pageSize) =>
        new(Math.Max(page ?? 1, 1), Math.Clamp(pageSize ?? DefaultPageSize, 1, MaxPageSize));

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
