using Microsoft.Extensions.Logging.Abstractions;
using OrderEvents.Features.Orders;
using OrderEvents.Infrastructure.Postgres;
using OrderEvents.Tests.Support;

namespace OrderEvents.Tests.Orders;

/// <summary>A development database of the version that stored orders as documents must not break this one.</summary>
public sealed class LegacyOrderDocumentsTests
{
    [Fact]
    public async Task orders_and_notifications_stored_as_documents_by_the_earlier_version_are_removed_and_streamed_orders_kept()
    {
        var database = await TestPostgres.CreateDatabaseAsync();
        // The shape the earlier version left: orders and notifications as Marten documents; one order here already
        // has a stream (as after a first start of this version), which must survive.
        await Sql.ExecuteAsync(database, """
            create schema orderevents;
            create table orderevents.mt_doc_order (id varchar primary key, data jsonb);
            create table orderevents.mt_doc_notification (id uuid primary key, data jsonb);
            create table orderevents.mt_streams (id varchar primary key);
            insert into orderevents.mt_doc_order values ('1', '{}'), ('2', '{}'), ('1001', '{}');
            insert into orderevents.mt_streams values ('1001');
            """);

        await new LegacyOrderDocuments(new PostgresConnection(database), NullLogger<LegacyOrderDocuments>.Instance).StartAsync(CancellationToken.None);

        (await Sql.ScalarAsync(database, "select string_agg(id, ',') from orderevents.mt_doc_order")).ShouldBe("1001");
        (await Sql.ScalarAsync(database, "select to_regclass('orderevents.mt_doc_notification') is null")).ShouldBe(true);

        // A second start finds nothing to do.
        await new LegacyOrderDocuments(new PostgresConnection(database), NullLogger<LegacyOrderDocuments>.Instance).StartAsync(CancellationToken.None);
        (await Sql.ScalarAsync(database, "select count(*) from orderevents.mt_doc_order")).ShouldBe(1L);
    }
}
