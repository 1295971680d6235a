using JasperFx.Core;
using Marten;
using OrderEvents.Features.Notifications;
using OrderEvents.Features.Orders;
using OrderEvents.Tests.Support;
using Wolverine.Tracking;

namespace OrderEvents.Tests.Infrastructure;

[Collection(AppCollection.Name)]
public sealed class KafkaRoundTripTests(AppFixture fixture) : IntegrationContext(fixture)
{
    [Fact]
    public async Task a_published_order_event_travels_through_the_broker_to_the_notification_handler()
    {
        var orderEvent = new OrderEvent(Guid.NewGuid(), OrderEventTypes.Created, DateTimeOffset.UtcNow, 77, 5, 15000m);

        var tracked = await Host.TrackActivity()
            .IncludeExternalTransports()
            .Timeout(TrackingTimeout)
            .WaitForNotificationBatches()
            .PublishMessageAndWaitAsync(orderEvent);

        tracked.Sent.SingleEnvelope<OrderEvent>().Destination!.Scheme.ShouldBe("kafka");
        var received = (OrderEvent)tracked.Received.SingleEnvelope<OrderEvent>().Message!;
        received.ShouldBe(orderEvent with { Timestamp = received.Timestamp }); // the wire keeps milliseconds
        received.Timestamp.ShouldBe(orderEvent.Timestamp, TimeSpan.FromMilliseconds(1));

        var notification = await FindNotification(orderEvent.EventId);
        notification.ShouldNotBeNull();
        notification.UserId.ShouldBe(5);
        notification.Message.ShouldBe("Your order #77 has been created. Total: $15000");
    }
}
