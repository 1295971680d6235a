using System.Data.Common;
using Marten;
using Npgsql;

namespace OrderEvents.Infrastructure.Postgres;

/// <summary>
/// During a database outage an HTTP request must fail within a fraction of a second (503), not after retries:
/// a short connect timeout unless the connection string sets one, and no Marten-level retries (the Kafka listener
/// has its own retry-then-pause policy in MessagingSetup).
/// </summary>
public static class PostgresConnectionDefaults
{
    public const int ConnectTimeoutSeconds = 2;

    public static string Apply(string connectionString)
    {
        var given = new DbConnectionStringBuilder { ConnectionString = connectionString };
        if (given.ContainsKey("Timeout") || given.ContainsKey("Connect Timeout") || given.ContainsKey("Connection Timeout")) return connectionString;
        return new NpgsqlConnectionStringBuilder(connectionString) { Timeout = ConnectTimeoutSeconds }.ConnectionString;
    }

    public static void FailFast(StoreOptions options)
    {
        // Empty pipelines: one attempt each for reads and for commits.
        options.ConfigurePolly(_ => { });
        options.ConfigureWritePolly(_ => { });
    }
}
