using System.Net.Sockets;
using Npgsql;

namespace OrderEvents.Infrastructure.Postgres;

/// <summary>
/// Tells PostgreSQL failures apart anywhere in an exception chain (Marten wraps Npgsql): "unreachable or going away"
/// (<see cref="IsOutage"/>), "refused a row because of its values" (<see cref="RowRefusal"/>), or any other database
/// error (<see cref="IsDatabaseError"/>).
/// </summary>
public static class DatabaseOutage
{
    /// <summary>Seconds a client is asked to wait (Retry-After) when the database is unavailable.</summary>
    public const int RetryAfterSeconds = 5;

    public static bool IsOutage(Exception? exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            switch (current)
            {
                // Connection failures, broken connections, pool timeouts: Npgsql marks these transient.
                case PostgresException postgres when IsUnavailable(postgres.SqlState):
                case NpgsqlException { IsTransient: true } and not PostgresException:
                case SocketException:
                    return true;
            }
        }

        return false;
    }

    /// <summary>Any error from PostgreSQL or Npgsql in the chain.</summary>
    public static bool IsDatabaseError(Exception? exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
            if (current is NpgsqlException) return true;
        return false;
    }

    /// <summary>
    /// The PostgreSQL error in the chain that the values of a row can cause, or null: SQLSTATE class 22 (data
    /// exception: a value too long, out of range, invalid), 23 (integrity constraint violation: CHECK, NOT NULL, unique,
    /// foreign key) and P0 (raised by a PL/pgSQL trigger). Everything else (a missing table or column, a revoked
    /// permission, a full disk, a serialization failure, a deadlock, a lost connection) is about the database, never
    /// about one record.
    /// </summary>
    public static PostgresException? RowRefusal(Exception? exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
            if (current is PostgresException postgres && postgres.SqlState.Length == 5 && postgres.SqlState[..2] is "22" or "23" or "P0")
                return postgres;
        return null;
    }

    // 08: connection exceptions; 57P01-03: admin/crash shutdown, cannot connect now; 53300: too many connections.
    private static bool IsUnavailable(string sqlState) =>
        sqlState.StartsWith("08", StringComparison.Ordinal) || sqlState is "57P01" or "57P02" or "57P03" or "53300";
}
