using Marten;
using Npgsql;
using OrderEvents.Infrastructure.Postgres;
using Wolverine;
using Wolverine.RDBMS;

namespace OrderEvents.Features.Flow;

/// <summary>
/// What is on its way right now: events committed but not yet acknowledged by Kafka (Wolverine's outbox), events
/// received but not yet turned into notifications (its inbox), and whether the broker is taken down on purpose.
/// </summary>
public sealed record PipelineState(long Outbox, long Inbox, BrokerState Broker);

public sealed record BrokerState(bool Down, DateTimeOffset? UpAt);

public static class PipelineEndpoint
{
    /// <summary>GET /flow/pipeline, polled by the page twice a second: two exact counts on small tables.</summary>
    public static async Task<PipelineState> Get(PostgresConnection postgres, IDocumentStore store, IServiceProvider services,
        CancellationToken cancellationToken)
    {
        // Wolverine keeps its envelope tables in Marten's schema (Marten is the message store).
        var schema = store.Options.DatabaseSchemaName;
        await using var connection = new NpgsqlConnection(PostgresConnectionDefaults.Apply(postgres.ConnectionString));
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"""
            select (select count(*) from {schema}.{DatabaseConstants.OutgoingTable}),
                   (select count(*) from {schema}.{DatabaseConstants.IncomingTable} where status = @incoming)
            """, connection);
        command.Parameters.AddWithValue("incoming", EnvelopeStatus.Incoming.ToString());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var outage = services.GetService<BrokerOutage>();
        return new PipelineState(reader.GetInt64(0), reader.GetInt64(1), new BrokerState(outage?.UpAt is not null, outage?.UpAt));
    }
}
