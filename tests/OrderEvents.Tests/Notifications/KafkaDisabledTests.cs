using System.Net;
using Alba;
using OrderEvents.Tests.Orders;
using OrderEvents.Tests.Support;
using static OrderEvents.Tests.Orders.OrderScenarios;

namespace OrderEvents.Tests.Notifications;

/// <summary>KAFKA_ENABLED=false: no broker at all, events go through a durable local queue to the same handler.</summary>
[Collection(KafkaDisabledCollection.Name)]
public sealed class KafkaDisabledTests(KafkaDisabledAppFixture fixture) : IntegrationContext(fixture)
{
    [Fact]
    public async Task orders_still_produce_their_notifications_asynchronously_through_the_local_queue()
    {
        Fixture.BootstrapServers.ShouldBeEmpty();
        var user = await RegisterAndLogin();

        var (created, result) = await TrackedHttpCall(s =>
        {
            s.PlaceOrder(user, Items((1, 1)));
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        var orderId = (await result.Json()).GetProperty("id").GetInt64();
        created.Sent.SingleEnvelope<OrderEvents.Features.Orders.OrderEvent>().Destination!.Scheme.ShouldBe("local");

        await TrackedHttpCall(s =>
        {
            s.ChangeOrder(user, orderId, "pay");
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var notifications = await NotificationsOf(user);
        notifications.Select(n => n.Type).ShouldBe(["ORDER_PAID", "ORDER_CREATED"]);
        notifications.ShouldAllBe(n => n.OrderId == orderId);
    }
}
