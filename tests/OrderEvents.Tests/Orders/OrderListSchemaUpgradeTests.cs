using System.Net;
using System.Text.Json;
using JasperFx;
using JasperFx.Events;
using JasperFx.Events.Projections;
using Marten;
using OrderEvents.Features.Orders;
using OrderEvents.Tests.Support;
using Xunit.Abstractions;

namespace OrderEvents.Tests.Orders;

/// <summary>
/// The order list's columns (user_id, created_at, order_id, see OrdersModule) on a database that already holds orders:
/// the operator's `db-apply` adds them, fills them from every stored order and builds the index; nothing else to run,
/// and the upgraded app fills them for every order it writes.
/// </summary>
public sealed class OrderListSchemaUpgradeTests(ITestOutputHelper output)
{
    [Fact]
    public async Task db_apply_adds_the_list_columns_to_a_database_with_orders_and_fills_them_from_each_order()
    {
        var database = await TestPostgres.CreateDatabaseAsync();
        var noon = DateTimeOffset.Parse("2026-03-01T12:00:00.1234567Z");
        await using (var previous = PreviousRelease(database))
        await using (var session = previous.LightweightSession())
        {
            foreach (var (id, userId, at) in new[] { (9L, 7L, noon), (10L, 7L, noon), (11L, 7L, noon.AddSeconds(-1)), (12L, 8L, noon.AddSeconds(1)) })
                session.Events.StartStream<Order>(Order.StreamKeyOf(id), new OrderPlaced(id, userId, [new OrderItem(1, 1, 15000m)], 15000m, at));
            await session.SaveChangesAsync();
            session.Events.Append(Order.StreamKeyOf(10), new OrderPaid(15000m, noon.AddMinutes(1)));
            await session.SaveChangesAsync();
        }

        (await Columns(database)).ShouldNotContain("order_id", "the previous release's table has no list columns");

        var production = new Dictionary<string, string?>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["ConnectionStrings__Postgres"] = database,
            ["KAFKA_ENABLED"] = "false",
            ["Jwt__SigningKey"] = "a-production-signing-key-of-at-least-32-bytes!",
            ["Catalog__SeedDemoProducts"] = "true",
            ["Notifications__MigrateOnStartup"] = "true",
        };
        // The service itself, as an operator upgrades it (not the development host).
        await using (var apply = AppProcess.Start(["db-apply"], production, "db-apply", output, BuiltApp.AssemblyPath))
            (await apply.WaitForExitAsync(TimeSpan.FromMinutes(2))).ShouldBe(0, apply.Output);

        (await Columns(database)).ShouldBe(["created_at", "order_id", "user_id"], ignoreOrder: true);
        ((long)(await Sql.ScalarAsync(database, """
            select count(*) from orderevents.mt_doc_order
            where user_id = (data ->> 'UserId')::bigint
              and order_id = (data ->> 'Id')::bigint
              and created_at = orderevents.mt_immutable_timestamptz(data ->> 'CreatedAt')
            """))!).ShouldBe(4, "every stored order's columns hold its document's values");
        // The index of the list replaces the previous release's computed index on the user.
        ((string)(await Sql.ScalarAsync(database, """
            select string_agg(indexdef, E'\n' order by indexname) from pg_indexes
            where schemaname = 'orderevents' and tablename = 'mt_doc_order' and indexname <> 'pkey_mt_doc_order_id'
            """))!).ShouldBe(
            "CREATE INDEX mt_doc_order_idx_user_id_created_at_order_id ON orderevents.mt_doc_order USING btree (user_id, created_at, order_id) INCLUDE (id)");

        // The upgraded app fills the columns of what it writes itself (db-apply replaced Marten's upsert function) and lists it.
        await using var app = await AppProcess.ServeAsync(production, "app (upgraded)", output, assembly: BuiltApp.AssemblyPath);
        var token = await app.RegisterAndLoginAsync("upgraded@tests.local");
        using (var placed = await app.PlaceOrderAsync(token))
            placed.StatusCode.ShouldBe(HttpStatusCode.Created, await placed.Content.ReadAsStringAsync());
        using var list = new HttpRequestMessage(HttpMethod.Get, "/api/orders?page=1&pageSize=20") { Headers = { Authorization = new("Bearer", token) } };
        using var listed = await app.Client.SendAsync(list);
        listed.StatusCode.ShouldBe(HttpStatusCode.OK, await listed.Content.ReadAsStringAsync());
        JsonDocument.Parse(await listed.Content.ReadAsStringAsync()).RootElement.GetProperty("totalCount").GetInt64().ShouldBe(1);
        ((long)(await Sql.ScalarAsync(database,
                "select count(*) from orderevents.mt_doc_order where user_id is not null and created_at is not null and order_id = (data ->> 'Id')::bigint"))!)
            .ShouldBe(5);
    }

    /// <summary>Order's mapping before the list columns: a computed index on the user only.</summary>
    private static DocumentStore PreviousRelease(string connectionString) => DocumentStore.For(options =>
    {
        options.Connection(connectionString);
        options.DatabaseSchemaName = "orderevents";
        options.AutoCreateSchemaObjects = AutoCreate.All;
        options.Events.StreamIdentity = StreamIdentity.AsString;
        options.Events.AddEventType<OrderPlaced>();
        options.Events.AddEventType<OrderPaid>();
        options.Events.AddEventType<OrderCancelled>();
        options.Projections.Snapshot<Order>(SnapshotLifecycle.Inline);
        options.Schema.For<Order>().Index(order => order.UserId);
    });

    private static async Task<string[]> Columns(string database) =>
        ((string)(await Sql.ScalarAsync(database, """
            select coalesce(string_agg(column_name, ','), '') from information_schema.columns
            where table_schema = 'orderevents' and table_name = 'mt_doc_order' and column_name in ('user_id', 'created_at', 'order_id')
            """))!).Split(',', StringSplitOptions.RemoveEmptyEntries);
}
