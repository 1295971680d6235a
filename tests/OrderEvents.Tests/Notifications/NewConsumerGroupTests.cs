using Marten;
using OrderEvents.Features.Notifications;
using OrderEvents.Features.Orders;
using OrderEvents.Infrastructure.Kafka;
using OrderEvents.Tests.Support;
using Wolverine.Tracking;

namespace OrderEvents.Tests.Notifications;

/// <summary>An event is already on the topic before the app (and so its consumer group) ever started.</summary>
public sealed class PrePublishedEventFixture : AppFixture
{
    public Guid EventId { get; } = Guid.NewGuid();

    protected override Task BeforeHostStartsAsync() => new KafkaProbe(BootstrapServers).ProduceAsync(
        KafkaSettings.OrderEventsTopic, "777",
        $$"""{"eventId":"{{EventId}}","eventType":"ORDER_CREATED","timestamp":"2025-01-30T10:15:30.123Z","orderId":777,"userId":4242,"totalAmount":1}""");
}

[CollectionDefinition(Name)]
public sealed class PrePublishedEventCollection : ICollectionFixture<PrePublishedEventFixture>
{
    public const string Name = "pre-published-event";
}

[Collection(PrePublishedEventCollection.Name)]
public sealed class NewConsumerGroupTests(PrePublishedEventFixture fixture) : IntegrationContext(fixture)
{
    // Keep what the listener did while the app started: that is what this test is about.
    public override Task InitializeAsync() => Task.CompletedTask;

    [Fact]
    public async Task a_new_consumer_group_starts_at_the_earliest_record_and_misses_nothing_published_before_it()
    {
        var handled = new StoredOrAlreadyDone();
        await Host.TrackActivity().IncludeExternalTransports().Timeout(TrackingTimeout)
            .WaitForCondition(handled)
            .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(async _ =>
            {
                // The listener may have handled it while the host was starting, before this session began.
                if (await FindNotification(fixture.EventId) is not null) handled.MarkDone();
            }));

        var notification = await FindNotification(fixture.EventId);
        notification.ShouldNotBeNull();
        notification.UserId.ShouldBe(4242);
    }

    private sealed class StoredOrAlreadyDone : ITrackedCondition
    {
        private volatile bool _done;

        public void MarkDone() => _done = true;

        public void Record(EnvelopeRecord record)
        {
            if (NotificationBatches.Stored(record).Any()) _done = true;
        }

        public bool IsCompleted() => _done;
    }
}
