using System.Text;
using Npgsql;
using OrderEvents.Bench.Harness;

namespace OrderEvents.Bench.Reads;

/// <summary>
/// The query plans of the statements the service itself runs, with their parameters: PostgreSQL's auto_explain in the
/// service's own sessions, written to the cluster's log. The sessions load the module from the start (a database
/// setting, before the service connects) but log nothing until <see cref="EnableAsync"/>, so the timed requests pay
/// nothing for it; enabling is a configuration reload, which every pooled session picks up before its next statement.
/// </summary>
public sealed class PlanCapture(PostgresCluster cluster, string database)
{
    private static readonly string[] Settings = ["log_min_duration = 0", "log_analyze = on", "log_buffers = on", "log_timing = on"];

    private string LogPath => Path.Combine(cluster.DataDirectory, "server.log");

    public Task LoadInSessionsAsync() => ExecuteAsync($"alter database \"{database}\" set session_preload_libraries = 'auto_explain'");

    public Task EnableAsync() => ExecuteAsync([.. Settings.Select(setting => $"alter system set auto_explain.{setting}"), "select pg_reload_conf()"]);

    public Task DisableAsync() =>
        ExecuteAsync([.. Settings.Select(setting => $"alter system reset auto_explain.{setting.Split(' ')[0]}"), "select pg_reload_conf()"]);

    /// <summary>
    /// Runs the request until the log shows a plan of a statement that mentions <paramref name="table"/> (the reload
    /// reaches each session asynchronously, so the first attempt may run unexplained), and returns those plans.
    /// </summary>
    public async Task<IReadOnlyList<string>> PlansOfAsync(Func<Task> request, string table)
    {
        for (var attempt = 0; attempt < 20; attempt++)
        {
            var offset = new FileInfo(LogPath).Length;
            await request();
            var plans = Entries(ReadFrom(offset)).Where(entry => entry.Contains("  plan:") && entry.Contains(table)).ToList();
            if (plans.Count > 0) return plans;
            await Task.Delay(250);
        }

        throw new InvalidOperationException($"No plan of a statement on {table} reached {LogPath}: is auto_explain available?");
    }

    private string ReadFrom(long offset)
    {
        using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        stream.Seek(offset, SeekOrigin.Begin);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    /// <summary>Log entries: a line with the log prefix ("2026-… UTC [pid] LOG:  …") and its tab-indented continuation lines.</summary>
    private static IEnumerable<string> Entries(string log)
    {
        var entry = new StringBuilder();
        foreach (var line in log.Split('\n'))
        {
            if (line.StartsWith('\t'))
            {
                entry.Append('\n').Append(line[1..]);
                continue;
            }

            if (entry.Length > 0) yield return entry.ToString();
            entry.Clear();
            var message = line.IndexOf("LOG:  ", StringComparison.Ordinal);
            if (message >= 0) entry.Append(line[(message + 6)..]);
        }

        if (entry.Length > 0) yield return entry.ToString();
    }

    /// <summary>One statement at a time (ALTER SYSTEM refuses to run in a transaction), in a session that knows the module's settings.</summary>
    private async Task ExecuteAsync(params string[] statements)
    {
        await using var connection = new NpgsqlConnection(cluster.ConnectionString("postgres") + ";Pooling=false");
        await connection.OpenAsync();
        foreach (var sql in statements.Prepend("load 'auto_explain'"))
        {
            await using var command = new NpgsqlCommand(sql, connection);
            await command.ExecuteNonQueryAsync();
        }
    }
}
