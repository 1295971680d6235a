namespace OrderEvents.Bench.Targets;

/// <summary>
/// Where a target keeps its notifications and order timestamps: the only SQL of the benchmark that knows a target's
/// schema. Event lag = notification stored (its created_at) minus the event's time (the order's created_at for
/// ORDER_CREATED, its updated_at for ORDER_PAID/ORDER_CANCELLED, which is the event's timestamp), read after the drain.
/// </summary>
public sealed record NotificationStore(
    /// <summary>Counts every notification (the drain waits until the count reaches the expected total).</summary>
    string CountSql,
    /// <summary>One row per notification of the orders in $1 (bigint[]): its lag in ms (float8).</summary>
    string LagSql)
{
    /// <summary>
    /// The service: notifications in the EF Core table notifications.notifications (primary key = event id), events in
    /// Marten's event store. The lag runs from the event's append (mt_events.timestamp, the database's clock at the
    /// order's commit) to the notification's created_at.
    /// </summary>
    public static readonly NotificationStore Service = new(
        CountSql: "select count(*) from notifications.notifications",
        LagSql: """
            select (extract(epoch from n.created_at - e.timestamp) * 1000)::float8
            from notifications.notifications n
            join orderevents.mt_events e on e.id = n.id
            where n.order_id = any($1)
            """);

    /// <summary>The bare baseline's tables (see Baseline/BareServer.cs).</summary>
    public static readonly NotificationStore Baseline = new(
        CountSql: "select count(*) from notifications",
        LagSql: """
            select (extract(epoch from n.created_at - case when n.type = 'ORDER_CREATED' then o.created_at else o.updated_at end) * 1000)::float8
            from notifications n
            join orders o on o.id = n.order_id
            where n.order_id = any($1)
            """);
}
