using JasperFx.Core;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Wolverine.Runtime;
using Wolverine.Transports;
using OrderEvents.Infrastructure.Kafka;
using OrderEvents.Tests.Notifications;
using OrderEvents.Tests.Support;
using Wolverine.Tracking;

namespace OrderEvents.Tests.Faults;

/// <summary>A host whose database-outage policy is short (3 × 50 ms in place, then a 1 s pause), so the pause runs in a test.</summary>
public sealed class ShortDatabaseRetryAppFixture : AppFixture
{
    protected override void Configure(IWebHostBuilder builder)
    {
        for (var i = 0; i < 3; i++) builder.UseSetting($"Messaging:DatabaseRetry:Delays:{i}", "00:00:00.050");
        builder.UseSetting("Messaging:DatabaseRetry:Pause", "00:00:01");
    }
}

[CollectionDefinition(Name)]
public sealed class ShortDatabaseRetryCollection : ICollectionFixture<ShortDatabaseRetryAppFixture>
{
    public const string Name = "short-database-retry";
}

/// <summary>An outage longer than the in-place retries: the listener pauses and takes the record again, never dead-letters it.</summary>
[Collection(ShortDatabaseRetryCollection.Name)]
[Trait("Category", "Faults")]
public sealed class DatabaseOutagePauseTests(ShortDatabaseRetryAppFixture fixture) : IntegrationContext(fixture)
{
    [Fact]
    public async Task an_outage_past_the_retries_pauses_the_listener_and_the_notification_arrives_after_recovery()
    {
        var user = await RegisterAndLogin();
        var eventId = Guid.NewGuid();
        var orderId = Random.Shared.Next(100_000, 900_000);
        var record = $$"""{"eventId":"{{eventId}}","eventType":"ORDER_CREATED","timestamp":"2025-01-30T10:15:30.123Z","orderId":{{orderId}},"userId":{{user.Id}},"totalAmount":5}""";
        var listener = Host.Services.GetRequiredService<IWolverineRuntime>().Endpoints.ActiveListeners()
            .Single(agent => agent.Uri.Scheme == "kafka");
        listener.Status.ShouldBe(ListeningStatus.Accepting);

        // The handler's table disappears: every attempt fails with a PostgreSQL error, as during an outage. It comes
        // back only once the listener is seen paused, i.e. after 1 attempt + 3 in-place retries were used up.
        await Sql.ExecuteAsync(Fixture.ConnectionString, "alter table notifications.notifications rename to notifications_away");
        var outage = new RecoversAfterAttempts(int.MaxValue, () => Task.CompletedTask);
        using var done = new CancellationTokenSource();
        var sawPause = false;
        var recovery = Task.Run(async () =>
        {
            while (!done.IsCancellationRequested && listener.Status == ListeningStatus.Accepting) await Task.Delay(10);
            sawPause = listener.Status != ListeningStatus.Accepting;
            await RestoreTable();
        });
        try
        {
            await Host.TrackActivity().IncludeExternalTransports().Timeout(60.Seconds())
                .DoNotAssertOnExceptionsDetected()
                .WaitForCondition(outage)
                .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(_ =>
                    new KafkaProbe(Fixture.BootstrapServers).ProduceAsync(KafkaSettings.OrderEventsTopic, orderId.ToString(), record)));
        }
        finally
        {
            await done.CancelAsync();
            await recovery;
        }

        outage.DeadLettered.ShouldBeFalse(outage.ToString());
        // PauseListenerContinuation found the Kafka listener and stopped it: its status left Accepting.
        sawPause.ShouldBeTrue("the listener was never paused");
        outage.Attempts.ShouldBeGreaterThanOrEqualTo(5, "1 attempt + 3 retries, then at least one after the pause");
        (await NotificationsOf(user)).ShouldHaveSingleItem().EventId.ShouldBe(eventId);
        new KafkaProbe(Fixture.BootstrapServers)
            .ReadUntil(KafkaSettings.DeadLetterTopic, r => r.Message.Key == orderId.ToString(), timeoutSeconds: 3)
            .ShouldBeEmpty("the record reached the dead-letter topic");
        await PipelineFlowsAgain();
    }

    private Task RestoreTable() => Sql.ExecuteAsync(Fixture.ConnectionString,
        "do $$ begin if to_regclass('notifications.notifications_away') is not null then alter table notifications.notifications_away rename to notifications; end if; end $$");
}
