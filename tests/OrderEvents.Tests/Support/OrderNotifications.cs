using Npgsql;

namespace OrderEvents.Tests.Support;

/// <summary>
/// The ordering promise, read from PostgreSQL: an order's notifications, in their users' stream positions, are exactly
/// its logged events (one per event id), in stream version order.
/// </summary>
public static class OrderNotifications
{
    public sealed record Row(Guid Id, string? Type, long? Version, long Position);

    /// <summary>The order's logged events (id, type name, version), in version order.</summary>
    public static Task<List<Row>> Logged(string connectionString, long orderId) => Read(connectionString,
        $"select id, type, version, seq_id from orderevents.mt_events where stream_id = '{orderId}' order by version");

    /// <summary>The order's notifications (id, type, version, position), in stream position order.</summary>
    public static Task<List<Row>> Notified(string connectionString, long orderId) => Read(connectionString,
        $"select id, type, version, position from notifications.notifications where order_id = {orderId} order by position");

    /// <summary>Exactly one notification per logged event, positioned in version order, each carrying its version.</summary>
    public static async Task ShouldFollowTheLog(string connectionString, long orderId, int expectedEvents)
    {
        var logged = await Logged(connectionString, orderId);
        var notified = await Notified(connectionString, orderId);
        logged.Count.ShouldBe(expectedEvents, $"order {orderId}: logged events");
        var describe = $"order {orderId}: notified {string.Join(", ", notified.Select(n => $"{n.Type} v{n.Version} @{n.Position}"))}";
        notified.Select(n => n.Id).ShouldBe(logged.Select(l => l.Id), describe + " — one notification per logged event, in version order");
        notified.Select(n => n.Version).ShouldBe(logged.Select(l => l.Version), describe);
        notified.Select(n => n.Position).ShouldBeInOrder(SortDirection.Ascending, describe);
    }

    private static async Task<List<Row>> Read(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<Row>();
        while (await reader.ReadAsync())
            rows.Add(new Row(reader.GetGuid(0), reader.IsDBNull(1) ? null : reader.GetString(1),
                reader.IsDBNull(2) ? null : Convert.ToInt64(reader.GetValue(2)), reader.GetInt64(3)));
        return rows;
    }
}
