using Npgsql;
using OrderEvents.Infrastructure.Postgres;

namespace OrderEvents.Features.Orders;

/// <summary>
/// Development databases created before orders became event streams hold orders as plain documents (no stream, no
/// events) and notifications as Marten documents (orderevents.mt_doc_notification). Their orders cannot be paid,
/// cancelled or replayed and their notifications would never be listed, so on the first start of this version
/// they are removed, with a log line that says so; users and products are kept, and order numbers keep counting
/// from where they were.
/// </summary>
public sealed class LegacyOrderDocuments(PostgresConnection postgres, ILogger<LegacyOrderDocuments> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(postgres.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using (var probe = new NpgsqlCommand("select to_regclass('orderevents.mt_doc_notification') is not null", connection))
        {
            if (!(bool)(await probe.ExecuteScalarAsync(cancellationToken))!) return;
        }

        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var cleanup = new NpgsqlCommand("""
            delete from orderevents.mt_doc_order o
             where to_regclass('orderevents.mt_streams') is null
                or not exists (select 1 from orderevents.mt_streams s where s.id = o.id::text);
            drop table orderevents.mt_doc_notification;
            """, connection, transaction);
        var removed = await cleanup.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        logger.LogWarning(
            "This database was created by an earlier OrderEvents version that stored orders as documents: removed {Count} of its orders and all its notifications (users and products are kept). New orders are event streams.",
            Math.Max(removed, 0));
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
