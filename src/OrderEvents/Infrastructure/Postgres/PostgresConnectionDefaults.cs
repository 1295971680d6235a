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
        var result = new NpgsqlConnectionStringBuilder(connectionString);
        if (!(given.ContainsKey("Timeout") || given.ContainsKey("Connect Timeout") || given.ContainsKey("Connection Timeout")))
            result.Timeout = ConnectTimeoutSeconds;
        return WithStatementReuse(result, given).ConnectionString;
    }

    /// <summary>
    /// Every request and message runs the same few statements (event append, projection upsert, outbox insert, ...).
    /// Npgsql prepares a statement once it was used twice on a connection, so PostgreSQL stops parsing and planning it
    /// each time; and a connection going back to the pool is not reset (a DISCARD ALL round trip per checkout), as
    /// nothing here changes session state on pooled connections. Either can be set in the connection string instead.
    /// </summary>
    private static NpgsqlConnectionStringBuilder WithStatementReuse(NpgsqlConnectionStringBuilder builder, DbConnectionStringBuilder given)
    {
        if (!given.ContainsKey("Max Auto Prepare")) builder.MaxAutoPrepare = 64;
        if (!given.ContainsKey("Auto Prepare Min Usages")) builder.AutoPrepareMinUsages = 2;
        if (!given.ContainsKey("No Reset On Close")) builder.NoResetOnClose = true;
        return builder;
    }

    public static void FailFast(StoreOptions options)
    {
        // Empty pipelines: one attempt each for reads and for commits.
        options.ConfigurePolly(_ => { });
        options.ConfigureWritePolly(_ => { });
    }
}
