using Marten.Pagination;

namespace OrderEvents.Infrastructure.Http;

/// <summary>?page=1&amp;pageSize=20 (max 100) with sane clamping of nonsense values.</summary>
public readonly record struct Paging(int Page, int PageSize)
{
    public const int DefaultPageSize = 20;
    public const int MaxPageSize = 100;

    public static Paging From(int? page, int? pageSize) =>
        new(Math.Max(page ?? 1, 1), Math.Clamp(pageSize ?? DefaultPageSize, 1, MaxPageSize));
}

public sealed record Page<T>(IReadOnlyList<T> Items, long PageNumber, long PageSize, long TotalCount)
{
    public static Page<T> From<TSource>(IPagedList<TSource> source, Func<TSource, T> map) =>
        new(source.Select(map).ToList(), source.PageNumber, source.PageSize, source.TotalItemCount);
}
