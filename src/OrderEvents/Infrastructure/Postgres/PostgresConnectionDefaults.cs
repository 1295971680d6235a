using System.Data.Common;
using Marten;

namespace OrderEvents.Infrastructure.Postgres;

/// <summary>Defaults for every connection string, each overridable in the connection string itself.</summary>
public static class PostgresConnectionDefaults
{
    public const int ConnectTimeoutSeconds = 2;

    public static string Apply(string connectionString)
    {
        var given = new DbConnectionStringBuilder { ConnectionString = connectionString };
        var result = new NpgsqlConnectionStringBuilder(connectionString);
        // During a database outage an HTTP request must fail within a fraction of a second (503), not after retries.
        if (!(given.ContainsKey("Timeout") || given.ContainsKey("Connect Timeout") || given.ContainsKey("Connection Timeout")))
            result.Timeout = ConnectTimeoutSeconds;
        // The same few statements run everywhere: prepared after two uses, not parsed and planned each time; nothing changes
        // session state, so a pooled connection needs no DISCARD ALL round trip per checkout (docs/benchmarks.md).
        if (!given.ContainsKey("Max Auto Prepare")) result.MaxAutoPrepare = 64;
        if (!given.ContainsKey("Auto Prepare Min Usages")) result.AutoPrepareMinUsages = 2;
        if (!given.ContainsKey("No Reset On Close")) result.NoResetOnClose = true;
        return result.ConnectionString;
    }

    /// <summary>No Marten-level retries: one attempt each for reads and commits (the Kafka listener has its own retry-then-pause policy in MessagingSetup).</summary>
    public static void FailFast(StoreOptions options)
    {
        options.ConfigurePolly(_ => { });
        options.ConfigureWritePolly(_ => { });
    }
}
