using System.Net;
using System.Text;
using Alba;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OrderEvents.Features.Orders;
using OrderEvents.Infrastructure.Kafka;
using OrderEvents.Tests.Orders;
using OrderEvents.Tests.Support;
using Wolverine.Tracking;
using static OrderEvents.Tests.Orders.OrderScenarios;

namespace OrderEvents.Tests.Notifications;

/// <summary>
/// A record the durable inbox already holds arrives again (a rebalance or a restart before the offset was committed, a
/// replay into the live group, a re-drive of a letter re-driven before): absorbed as a duplicate, it is normal operation
/// and logs nothing above Information, under the app's own logging configuration.
/// </summary>
[Collection(AppCollection.Name)]
public sealed class DuplicateDeliveryLogTests(AppFixture fixture) : IntegrationContext(fixture)
{
    [Fact]
    public async Task an_identical_record_delivered_again_is_absorbed_with_no_warning_or_error_in_the_log()
    {
        var user = await RegisterAndLogin();
        var (_, created) = await TrackedHttpCall(s =>
        {
            s.PlaceOrder(user, Items((1, 1)));
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        var orderId = (await created.Json()).GetProperty("id").GetInt64();
        // The app's record of this order (other tests of the collection produce records of their own with small keys).
        var original = new KafkaProbe(Fixture.BootstrapServers).ReadUntil(KafkaSettings.OrderEventsTopic,
            r => r.Message.Key == orderId.ToString() && Encoding.UTF8.GetString(r.Message.Value).Contains($"\"userId\":{user.Id},")).ShouldHaveSingleItem().Message;
        var envelopeId = Guid.Parse(Encoding.UTF8.GetString(original.Headers.GetLastBytes("id")));
        Fixture.Logs.Clear();

        // The app's own record once more, byte for byte, headers included (so the same envelope id), then a fresh
        // event behind it on its partition: once that one is stored, the listener has passed the duplicate.
        var sentinel = Guid.NewGuid();
        var tracked = await Host.TrackActivity().IncludeExternalTransports().Timeout(TrackingTimeout)
            .WaitForCondition(new HandledCount<OrderEvent>(1))
            .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(async _ =>
            {
                using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = Fixture.BootstrapServers }).Build();
                await producer.ProduceAsync(KafkaSettings.OrderEventsTopic, new Message<string, byte[]> { Key = original.Key, Value = original.Value, Headers = original.Headers });
                await new KafkaProbe(Fixture.BootstrapServers).ProduceAsync(KafkaSettings.OrderEventsTopic, original.Key,
                    $$"""{"eventId":"{{sentinel}}","eventType":"ORDER_CREATED","timestamp":"2025-01-30T10:15:30.123Z","orderId":{{orderId}},"userId":424242,"totalAmount":1}""");
            }));

        // Absorbed by the durable inbox, before any handler: no execution of that envelope, one notification.
        tracked.AllRecordsInOrder().ShouldNotContain(r => r.Envelope != null && r.Envelope.Id == envelopeId && r.MessageEventType == MessageEventType.ExecutionStarted);
        tracked.AllRecordsInOrder().ShouldContain(r => r.Message is OrderEvent[] && ((OrderEvent[])r.Message).Any(e => e.EventId == sentinel));
        (await NotificationsOf(user)).ShouldHaveSingleItem().OrderId.ShouldBe(orderId);
        var loud = Fixture.Logs.Entries.Where(e => e.Level >= LogLevel.Warning).ToList();
        loud.ShouldBeEmpty(string.Join("\n", loud.Select(e => $"{e.Level} {e.Category}: {e.Message} {e.Exception?.Message}")));
    }

    [Fact]
    public async Task a_replay_of_an_orders_events_into_the_live_group_is_absorbed_with_no_warning_or_error_in_the_log()
    {
        var user = await RegisterAndLogin();
        var (_, created) = await TrackedHttpCall(s =>
        {
            s.PlaceOrder(user, Items((1, 1)));
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        var orderId = (await created.Json()).GetProperty("id").GetInt64();
        await TrackedHttpCall(s =>
        {
            s.ChangeOrder(user, orderId, "pay");
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        Fixture.Logs.Clear();

        // What `replay --order` publishes: both events again, handled by the live listener, absorbed by the notifications' key.
        await Host.TrackActivity().IncludeExternalTransports().Timeout(TrackingTimeout)
            .WaitForCondition(new HandledCount<OrderEvent>(2))
            .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(async _ =>
                (await Host.Services.GetRequiredService<OrderEventReplay>()
                    .ReplayAsync(new ReplayFilter(OrderId: orderId), null, CancellationToken.None)).ShouldBe(2)));

        (await NotificationsOf(user)).Count.ShouldBe(2);
        var loud = Fixture.Logs.Entries.Where(e => e.Level >= LogLevel.Warning).ToList();
        loud.ShouldBeEmpty(string.Join("\n", loud.Select(e => $"{e.Level} {e.Category}: {e.Message} {e.Exception?.Message}")));
    }
}