using JasperFx.Core;
using Microsoft.Extensions.DependencyInjection;
using OrderEvents.Features.Orders;
using OrderEvents.Infrastructure.Kafka;
using OrderEvents.Tests.Support;
using Wolverine.Runtime;
using Wolverine.Tracking;
using Wolverine.Transports;

namespace OrderEvents.Tests.Notifications;

/// <summary>
/// A notification batch commits in Wolverine's EF Core transaction together with a "handled" inbox row carrying the
/// batch's own id. When a COMMIT succeeds but its answer is lost, the batch runs again and that row's key is taken:
/// the re-run must be dropped and its events settled, not retried as a database outage for ever (which would stall
/// every batch behind it).
/// </summary>
[Collection(AppCollection.Name)]
public sealed class BatchAlreadyCommittedTests(AppFixture fixture) : IntegrationContext(fixture)
{
    [Fact]
    public async Task a_batch_whose_own_handled_row_is_already_in_the_inbox_is_dropped_not_retried()
    {
        var user = await RegisterAndLogin();
        var listener = Host.Services.GetRequiredService<IWolverineRuntime>().Endpoints.ActiveListeners().Single(agent => agent.Uri.Scheme == "kafka");
        // Stands in for the row a committed run of the same batch left: inserting a "handled" row fails on its key.
        await Sql.ExecuteAsync(Fixture.ConnectionString, """
            create function orderevents.handled_row_exists() returns trigger language plpgsql as $$
            begin
              raise unique_violation using message = 'duplicate key value (test)', table = tg_table_name, schema = tg_table_schema;
            end $$;
            create trigger handled_row_exists before insert on orderevents.wolverine_incoming_envelopes
              for each row when (new.status = 'Handled') execute function orderevents.handled_row_exists();
            """);
        var batch = new BatchOutcome();
        try
        {
            var orderId = Random.Shared.Next(100_000, 900_000);
            var record = $$"""{"eventId":"{{Guid.NewGuid()}}","eventType":"ORDER_CREATED","timestamp":"2025-01-30T10:15:30.123Z","orderId":{{orderId}},"userId":{{user.Id}},"totalAmount":5}""";
            await Host.TrackActivity().IncludeExternalTransports().Timeout(30.Seconds())
                .DoNotAssertOnExceptionsDetected()
                .WaitForCondition(batch)
                .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(_ =>
                    new KafkaProbe(Fixture.BootstrapServers).ProduceAsync(KafkaSettings.OrderEventsTopic, orderId.ToString(), record)));
        }
        finally
        {
            await Sql.ExecuteAsync(Fixture.ConnectionString,
                "drop trigger handled_row_exists on orderevents.wolverine_incoming_envelopes; drop function orderevents.handled_row_exists();");
        }

        batch.Discarded.ShouldBeTrue(batch.ToString());
        batch.Attempts.ShouldBe(1, batch.ToString());
        batch.DeadLettered.ShouldBeFalse(batch.ToString());
        listener.Status.ShouldBe(ListeningStatus.Accepting);
    }

    private sealed class BatchOutcome : ITrackedCondition
    {
        private int _attempts;

        public int Attempts => _attempts;
        public bool Discarded { get; private set; }
        public bool DeadLettered { get; private set; }

        public void Record(EnvelopeRecord record)
        {
            if (record.Message is not OrderEvent[]) return;
            switch (record.MessageEventType)
            {
                case MessageEventType.ExecutionStarted:
                    Interlocked.Increment(ref _attempts);
                    break;
                case MessageEventType.Discarded:
                    Discarded = true;
                    break;
                case MessageEventType.MovedToErrorQueue:
                    DeadLettered = true;
                    break;
            }
        }

        public bool IsCompleted() => Discarded || DeadLettered;

        public override string ToString() => $"attempts {_attempts}, discarded {Discarded}, dead-lettered {DeadLettered}";
    }
}
