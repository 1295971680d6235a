using Npgsql;
using OrderEvents.Bench.Harness;

namespace OrderEvents.Bench.Profiling;

/// <summary>
/// What PostgreSQL did for one target over a window, as differences of its cumulative statistics (nothing is reset, so
/// <c>--statements</c> keeps its whole-run view): per statement (pg_stat_statements: calls, rows, execution time,
/// buffers, WAL), per table (pg_stat_user_tables: rows inserted, updated, deleted), the database (commits, rollbacks) and
/// the cluster's WAL (pg_stat_wal; only one target runs at a time), plus PostgreSQL's CPU per process kind from /proc.
/// </summary>
public sealed class PostgresActivity
{
    public required Dictionary<(long QueryId, bool TopLevel), StatementStats> Statements { get; init; }
    public required Dictionary<string, TableStats> Tables { get; init; }
    public required DatabaseStats Database { get; init; }
    public required Dictionary<string, double> CpuByProcessKind { get; init; }

    public static async Task<PostgresActivity> ReadAsync(PostgresCluster cluster, string database)
    {
        var statements = new Dictionary<(long, bool), StatementStats>();
        await using (var connection = new NpgsqlConnection(cluster.ConnectionString("postgres")))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("""
                select s.queryid, s.toplevel, s.calls, s.rows, s.total_exec_time, s.shared_blks_hit, s.shared_blks_read,
                       s.shared_blks_dirtied, s.wal_records, s.wal_bytes::float8, regexp_replace(s.query, '\s+', ' ', 'g')
                  from pg_stat_statements s join pg_database d on d.oid = s.dbid
                 where d.datname = $1
                """, connection);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = database });
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                var key = (reader.IsDBNull(0) ? 0 : reader.GetInt64(0), reader.GetBoolean(1));
                var stats = new StatementStats(reader.GetString(10), reader.GetInt64(2), reader.GetInt64(3), reader.GetDouble(4),
                    reader.GetInt64(5), reader.GetInt64(6), reader.GetInt64(7), reader.GetInt64(8), reader.GetDouble(9));
                // The same statement under two users or queryid collisions: add them up.
                statements[key] = statements.TryGetValue(key, out var existing) ? existing.Plus(stats) : stats;
            }
        }

        DatabaseStats databaseStats;
        await using (var connection = new NpgsqlConnection(cluster.ConnectionString("postgres")))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("""
                select d.xact_commit, d.xact_rollback, d.tup_returned, d.tup_fetched, w.wal_records, w.wal_fpi, w.wal_bytes::float8
                  from pg_stat_database d, pg_stat_wal w where d.datname = $1
                """, connection);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = database });
            await using var reader = await command.ExecuteReaderAsync();
            await reader.ReadAsync();
            databaseStats = new DatabaseStats(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3),
                reader.GetInt64(4), reader.GetInt64(5), reader.GetDouble(6));
        }

        var tables = new Dictionary<string, TableStats>();
        await using (var connection = new NpgsqlConnection(cluster.ConnectionString(database) + ";Pooling=false"))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("""
                select schemaname || '.' || relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del, coalesce(seq_scan, 0), coalesce(idx_scan, 0)
                  from pg_stat_user_tables
                """, connection);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
                tables[reader.GetString(0)] = new TableStats(reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5), reader.GetInt64(6));
        }

        return new PostgresActivity
        {
            Statements = statements, Tables = tables, Database = databaseStats, CpuByProcessKind = CpuByKind(cluster.PostmasterPid),
        };
    }

    /// <summary>This window: <paramref name="after"/> minus <paramref name="before"/> (statements and tables new in the window count whole).</summary>
    public static PostgresActivity Delta(PostgresActivity before, PostgresActivity after) => new()
    {
        Statements = after.Statements.ToDictionary(p => p.Key, p => before.Statements.TryGetValue(p.Key, out var b) ? p.Value.Minus(b) : p.Value)
            .Where(p => p.Value.Calls > 0).ToDictionary(),
        Tables = after.Tables.ToDictionary(p => p.Key, p => before.Tables.TryGetValue(p.Key, out var b) ? p.Value.Minus(b) : p.Value),
        Database = after.Database.Minus(before.Database),
        CpuByProcessKind = after.CpuByProcessKind.ToDictionary(p => p.Key, p => p.Value - before.CpuByProcessKind.GetValueOrDefault(p.Key)),
    };

    /// <summary>
    /// CPU (ms) of the postmaster's children by kind, from their command lines ("postgres: walwriter", "postgres: postgres
    /// orderevents 127.0.0.1(51234) idle", ...); backends that exited are in the postmaster's cutime/cstime.
    /// </summary>
    private static Dictionary<string, double> CpuByKind(int postmasterPid)
    {
        var cpu = new Dictionary<string, double>();
        void Add(string kind, double ms) => cpu[kind] = cpu.GetValueOrDefault(kind) + ms;
        if (ReadStat(postmasterPid) is { } parent)
        {
            Add("postmaster", (long.Parse(parent[11]) + long.Parse(parent[12])) * 10.0);
            Add("exited backends and workers", (long.Parse(parent[13]) + long.Parse(parent[14])) * 10.0);
        }

        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid) || pid == postmasterPid) continue;
            if (ReadStat(pid) is not { } child || int.Parse(child[1]) != postmasterPid) continue;
            string command;
            try
            {
                command = File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim();
            }
            catch (IOException)
            {
                continue;
            }

            Add(KindOf(command), (long.Parse(child[11]) + long.Parse(child[12])) * 10.0);
        }

        return cpu;
    }

    private static string KindOf(string command)
    {
        var name = command.StartsWith("postgres: ", StringComparison.Ordinal) ? command["postgres: ".Length..] : command;
        foreach (var kind in new[] { "walwriter", "checkpointer", "background writer", "autovacuum launcher", "autovacuum worker", "logical replication launcher", "stats" })
            if (name.StartsWith(kind, StringComparison.Ordinal)) return kind;
        return "client backends";
    }

    private static string[]? ReadStat(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}

public sealed record StatementStats(string Query, long Calls, long Rows, double TotalMs, long BlocksHit, long BlocksRead, long BlocksDirtied, long WalRecords, double WalBytes)
{
    public StatementStats Minus(StatementStats b) => new(Query, Calls - b.Calls, Rows - b.Rows, TotalMs - b.TotalMs, BlocksHit - b.BlocksHit,
        BlocksRead - b.BlocksRead, BlocksDirtied - b.BlocksDirtied, WalRecords - b.WalRecords, WalBytes - b.WalBytes);

    public StatementStats Plus(StatementStats b) => new(Query, Calls + b.Calls, Rows + b.Rows, TotalMs + b.TotalMs, BlocksHit + b.BlocksHit,
        BlocksRead + b.BlocksRead, BlocksDirtied + b.BlocksDirtied, WalRecords + b.WalRecords, WalBytes + b.WalBytes);
}

public sealed record TableStats(long Inserted, long Updated, long HotUpdated, long Deleted, long SeqScans, long IndexScans)
{
    public TableStats Minus(TableStats b) => new(Inserted - b.Inserted, Updated - b.Updated, HotUpdated - b.HotUpdated, Deleted - b.Deleted,
        SeqScans - b.SeqScans, IndexScans - b.IndexScans);

    public bool Any => Inserted != 0 || Updated != 0 || Deleted != 0;
}

public sealed record DatabaseStats(long Commits, long Rollbacks, long TuplesReturned, long TuplesFetched, long WalRecords, long WalFullPages, double WalBytes)
{
    public DatabaseStats Minus(DatabaseStats b) => new(Commits - b.Commits, Rollbacks - b.Rollbacks, TuplesReturned - b.TuplesReturned,
        TuplesFetched - b.TuplesFetched, WalRecords - b.WalRecords, WalFullPages - b.WalFullPages, WalBytes - b.WalBytes);
}
