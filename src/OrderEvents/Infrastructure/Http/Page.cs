namespace OrderEvents.Infrastructure.Http;

/// <summary>?page=1&amp;pageSize=20, clamped (never an error) so that the row offset always fits in an int.</summary>
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

public sealed record Page<T>(IReadOnlyList<T> Items, long PageNumber, long PageSize, long TotalCount);
