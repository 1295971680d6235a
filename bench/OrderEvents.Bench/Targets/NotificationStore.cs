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
    /// The service today: Marten documents in the `orderevents` schema (JSON property names as the C# ones).
    /// When notifications move to the EF Core table (schema `notifications`) and orders to event streams, change only
    /// this: e.g. count `notifications.notifications`, and take the event time from the order stream's events.
    /// </summary>
    public static readonly NotificationStore ServiceMarten = new(
        CountSql: "select count(*) from orderevents.mt_doc_notification",
        LagSql: """
            select (extract(epoch from (n.data->>'CreatedAt')::timestamptz
                     - (case when n.data->>'Type' = 'ORDER_CREATED' then o.data->>'CreatedAt' else o.data->>'UpdatedAt' end)::timestamptz) * 1000)::float8
            from orderevents.mt_doc_notification n
            join orderevents.mt_doc_order o on o.id = (n.data->>'OrderId')::bigint
            where (n.data->>'OrderId')::bigint = any($1)
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
