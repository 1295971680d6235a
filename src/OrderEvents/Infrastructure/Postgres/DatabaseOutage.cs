using System.Net.Sockets;
using Npgsql;

namespace OrderEvents.Infrastructure.Postgres;

/// <summary>Recognises "PostgreSQL is unreachable or going away" anywhere in an exception chain (Marten wraps Npgsql).</summary>
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

    // 08: connection exceptions; 57P01-03: admin/crash shutdown, cannot connect now; 53300: too many connections.
    private static bool IsUnavailable(string sqlState) =>
        sqlState.StartsWith("08", StringComparison.Ordinal) || sqlState is "57P01" or "57P02" or "57P03" or "53300";
}
