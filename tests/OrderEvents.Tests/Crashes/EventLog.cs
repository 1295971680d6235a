using OrderEvents.Tests.Support;

namespace OrderEvents.Tests.Crashes;

/// <summary>What the database says about the promise: every logged event has exactly one notification.</summary>
public sealed class EventLog(string connectionString)
{
    public async Task<long> Orders() => await Count("select count(*) from orderevents.mt_streams");

    public async Task<long> Events() => await Count("select count(*) from orderevents.mt_events");

    public async Task<long> CreatedNotifications() => await Count("select count(*) from notifications.notifications where type = 'ORDER_CREATED'");

    /// <summary>Logged events that have no notification yet.</summary>
    public async Task<long> Unnotified() => await Count(
        "select count(*) from orderevents.mt_events e where not exists (select 1 from notifications.notifications n where n.id = e.id)");

    /// <summary>Notifications for an event that is not in the log (a doubled or invented event).</summary>
    public async Task<long> Orphans() => await Count(
        "select count(*) from notifications.notifications n where not exists (select 1 from orderevents.mt_events e where e.id = n.id)");

    public async Task<long> UnsentOutbox() => await Count("select count(*) from orderevents.wolverine_outgoing_envelopes");

    /// <summary>Work a crash left undone: envelopes still in the outbox, plus logged events without their notification.</summary>
    public async Task<long> Pending() => await UnsentOutbox() + await Unnotified();

    /// <summary>The ids of the unsent outbox envelopes owned by one node (Wolverine's node number, the rows' owner_id).</summary>
    public Task<List<Guid>> OutboxOwnedBy(int nodeNumber) =>
        Ids($"select id from orderevents.wolverine_outgoing_envelopes where owner_id = {nodeNumber}");

    /// <summary>Which of these envelopes are still in the outbox (unsent).</summary>
    public Task<List<Guid>> StillInOutbox(IReadOnlyCollection<Guid> envelopes) =>
        Ids($"select id from orderevents.wolverine_outgoing_envelopes where id in ({Quoted(envelopes)})");

    /// <summary>Which of these envelopes reached the durable inbox through Kafka (kept there a while after handling).</summary>
    public Task<List<Guid>> Received(IReadOnlyCollection<Guid> envelopes) =>
        Ids($"select id from orderevents.wolverine_incoming_envelopes where id in ({Quoted(envelopes)})");

    private static string Quoted(IReadOnlyCollection<Guid> ids) =>
        ids.Count == 0 ? "null" : string.Join(", ", ids.Select(id => $"'{id}'"));

    private async Task<List<Guid>> Ids(string sql)
    {
        await using var connection = new Npgsql.NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        var ids = new List<Guid>();
        while (await reader.ReadAsync()) ids.Add(reader.GetGuid(0));
        return ids;
    }

    /// <summary>The ids of the stored orders (their stream keys).</summary>
    public async Task<HashSet<long>> StoredOrderIds()
    {
        await using var connection = new Npgsql.NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand("select id from orderevents.mt_streams", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var ids = new HashSet<long>();
        while (await reader.ReadAsync()) ids.Add(long.Parse(reader.GetString(0)));
        return ids;
    }

    /// <summary>Stored orders whose ORDER_CREATED notification is missing or doubled (each must have exactly one).</summary>
    public async Task<long> OrdersWithoutExactlyOneCreatedNotification() => await Count(
        "select count(*) from orderevents.mt_streams s where (select count(*) from notifications.notifications n " +
        "where n.order_id = s.id::bigint and n.type = 'ORDER_CREATED') <> 1");

    /// <summary>
    /// Whether no session named <paramref name="applicationName"/> runs a statement. For a frozen app: what it sent
    /// before the freeze has finished (its open transactions stay open, and a kill rolls them back), so nothing it does
    /// can change the database any more.
    /// </summary>
    public async Task<bool> NoStatementRuns(string applicationName) => await Count(
        $"select count(*) from pg_stat_activity where application_name = '{applicationName}' and state = 'active'") == 0;

    /// <summary>Waits until every logged event has its notification; returns how long that took, or null at the deadline.</summary>
    public async Task<TimeSpan?> WaitUntilEveryEventIsNotified(DateTime since, TimeSpan deadline)
    {
        while (DateTime.UtcNow - since < deadline)
        {
            if (await Unnotified() == 0) return DateTime.UtcNow - since;
            await Task.Delay(100); // polling interval of an external condition
        }

        return null;
    }

    private async Task<long> Count(string sql) => Convert.ToInt64(await Sql.ScalarAsync(connectionString, sql));
}
