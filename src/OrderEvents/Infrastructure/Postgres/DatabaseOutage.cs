using System.Net.Sockets;

namespace OrderEvents.Infrastructure.Postgres;

/// <summary>
/// Tells PostgreSQL failures apart anywhere in an exception chain (Marten wraps Npgsql): "unreachable or going away"
/// (<see cref="IsOutage"/>) or "refused a row because of its values" (<see cref="RowRefusal"/>).
/// </summary>
public static class DatabaseOutage
{
    /// <summary>Seconds a client is asked to wait (Retry-After) when the database is unavailable.</summary>
    public const int RetryAfterSeconds = 5;

    /// <summary>Any Npgsql or PostgreSQL error, however deeply wrapped: what the retry policy treats as an outage until shown otherwise.</summary>
    public static bool IsDatabaseError(Exception? exception) => Chain(exception).Any(current => current is NpgsqlException);

    /// <summary>Connection failures, broken connections, pool timeouts (Npgsql marks these transient), or PostgreSQL going away.</summary>
    public static bool IsOutage(Exception? exception) => Chain(exception).Any(current =>
        current is PostgresException postgres ? IsUnavailable(postgres.SqlState) : current is NpgsqlException { IsTransient: true } or SocketException);

    /// <summary>
    /// The PostgreSQL error in the chain that one row's values can cause, or null: SQLSTATE class 22 (data exception),
    /// 23 (integrity constraint violation) or P0 (raised by a PL/pgSQL trigger). Anything else (a missing table, a
    /// revoked permission, a deadlock, a lost connection) is about the database, never about one record.
    /// </summary>
    public static PostgresException? RowRefusal(Exception? exception) =>
        Chain(exception).OfType<PostgresException>().FirstOrDefault(postgres => postgres.SqlState is ['2', '2' or '3', ..] or ['P', '0', ..]);

    /// <summary>What PostgreSQL said, for an operator: SQLSTATE, the constraint and table it names, its message.</summary>
    public static string Describe(Exception exception) => Chain(exception).OfType<PostgresException>().FirstOrDefault() is { } postgres
        ? $"SQLSTATE {postgres.SqlState} ({postgres.ConstraintName ?? postgres.ColumnName ?? "-"} on {postgres.SchemaName}.{postgres.TableName}): " +
          postgres.MessageText
        : $"{exception.GetType().Name}: {exception.Message}";

    /// <summary>The exception and its inner ones, outermost first (Marten wraps Npgsql).</summary>
    private static IEnumerable<Exception> Chain(Exception? exception)
    {
        for (var current = exception; current is not null; current = current.InnerException) yield return current;
    }

    // 08: connection exceptions; 57P01-03: admin/crash shutdown, cannot connect now; 53300: too many connections.
    private static bool IsUnavailable(string sqlState) =>
        sqlState.StartsWith("08", StringComparison.Ordinal) || sqlState is "57P01" or "57P02" or "57P03" or "53300";
}
