using System.Net;
using System.Text;
using Alba;
using OrderEvents.Tests.Orders;
using Confluent.Kafka;
using Microsoft.EntityFrameworkCore;
using OrderEvents.Features.Notifications;
using OrderEvents.Features.Orders;
using OrderEvents.Infrastructure.Kafka;
using OrderEvents.Tests.Support;
using Wolverine.Tracking;

namespace OrderEvents.Tests.Notifications;

/// <summary>The Kafka listener: at least once in, exactly one notification out.</summary>
[Collection(AppCollection.Name)]
public sealed class NotificationTests(AppFixture fixture) : IntegrationContext(fixture)
{
    private KafkaProbe Kafka => new(Fixture.BootstrapServers);

    private static string Json(Guid eventId, string eventType, long orderId, long userId, string amount) =>
        $$"""{"eventId":"{{eventId}}","eventType":"{{eventType}}","timestamp":"2025-01-30T10:15:30.123Z","orderId":{{orderId}},"userId":{{userId}},"totalAmount":{{amount}}}""";

    /// <summary>Produces with a plain client and waits until the listener has handled that many records.</summary>
    private Task<ITrackedSession> ProduceAndWait(int handled, params (string Key, string Value, Partition? Partition)[] records) =>
        Host.TrackActivity().IncludeExternalTransports().Timeout(TrackingTimeout)
            .DoNotAssertOnExceptionsDetected()
            .WaitForCondition(new HandledCount<OrderEvent>(handled, countDiscarded: true))
            .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(async _ =>
            {
                foreach (var (key, value, partition) in records)
                    await Kafka.ProduceAsync(KafkaSettings.OrderEventsTopic, key, value, partition);
            }));

    [Fact]
    public async Task a_plain_json_event_from_a_non_wolverine_producer_becomes_a_notification()
    {
        var eventId = Guid.NewGuid();
        var tracked = await ProduceAndWait(1, ("123", Json(eventId, "ORDER_CREATED", 123, 45, "50000"), null));

        // No Wolverine headers, yet the envelope has a real id (for logs, traces and dead letters).
        tracked.Executed.Envelopes().Where(e => e.Message is OrderEvent).ShouldHaveSingleItem().Id.ShouldNotBe(Guid.Empty);

        var notification = await FindNotification(eventId);
        notification.ShouldNotBeNull();
        notification.UserId.ShouldBe(45);
        notification.OrderId.ShouldBe(123);
        notification.Type.ShouldBe("ORDER_CREATED");
        notification.Message.ShouldBe("Your order #123 has been created. Total: $50000");
    }

    [Fact]
    [Trait("Category", "Faults")]
    public async Task the_same_event_delivered_twice_yields_one_notification()
    {
        var user = await RegisterAndLogin();
        var eventId = Guid.NewGuid();
        var record = ("9001", Json(eventId, "ORDER_PAID", 9001, user.Id, "15000.00"), (Partition?)null);

        // Byte-identical twins share their envelope id: the durable inbox keeps the first and drops the second.
        var tracked = await ProduceAndWait(1, record, record);
        await ListenerPassed([record.Item1]);

        var notification = (await NotificationsOf(user)).ShouldHaveSingleItem();
        notification.EventId.ShouldBe(eventId);
        notification.Message.ShouldBe("Your order #9001 has been paid. Total: $15000");

        // A replay (the offset rewound, or another producer) is recognised by the event id alone, whatever the bytes
        // and envelope id: the notification's identity is the event id, so this holds beyond any inbox retention.
        var replayedWithOtherBytes = ("9001", Json(eventId, "ORDER_PAID", 9001, user.Id, "15000").Replace("10:15:30.123Z", "10:15:31.000Z"), (Partition?)null);
        var replay = await ProduceAndWait(1, replayedWithOtherBytes);
        replay.Executed.MessagesOf<OrderEvent>().Single().EventId.ShouldBe(eventId); // it reached the handler, a new envelope
        (await NotificationsOf(user)).ShouldHaveSingleItem();
    }

    [Fact]
    public async Task an_unknown_event_type_is_skipped_and_the_next_event_is_still_handled()
    {
        var user = await RegisterAndLogin();
        var partition = new Partition(0);
        await ProduceAndWait(2,
            ("77", Json(Guid.NewGuid(), "ORDER_SHIPPED", 77, user.Id, "1"), partition),
            ("77", Json(Guid.NewGuid(), "ORDER_CANCELLED", 77, user.Id, "1"), partition));

        (await NotificationsOf(user)).ShouldHaveSingleItem().Type.ShouldBe("ORDER_CANCELLED");
    }

    [Fact]
    [Trait("Category", "Faults")]
    public async Task malformed_json_is_dead_lettered_and_the_partition_keeps_moving()
    {
        var user = await RegisterAndLogin();
        var partition = new Partition(1);
        var poison = "{ this is not json " + Guid.NewGuid();
        await ProduceAndWait(1,
            ("88", poison, partition),
            ("88", Json(Guid.NewGuid(), "ORDER_CREATED", 88, user.Id, "12.5"), partition));

        (await NotificationsOf(user)).ShouldHaveSingleItem().Message.ShouldBe("Your order #88 has been created. Total: $12.5");

        var dead = Kafka.ReadUntil(KafkaSettings.DeadLetterTopic, r => Encoding.UTF8.GetString(r.Message.Value) == poison);
        var letter = dead.ShouldHaveSingleItem();
        letter.Message.Headers.Select(h => h.Key).ShouldContain(key => key.Contains("exception", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task the_events_of_one_order_are_handled_in_the_order_they_were_published()
    {
        var user = await RegisterAndLogin();
        // 40 orders, each CREATED then PAID or CANCELLED, produced back to back: the records of different orders
        // interleave in each partition's fetch batches, those of one order must still be handled in offset order.
        var records = Enumerable.Range(1, 40).SelectMany(order => new[]
        {
            (order.ToString(), Json(Guid.NewGuid(), "ORDER_CREATED", order, user.Id, "10")),
            (order.ToString(), Json(Guid.NewGuid(), order % 2 == 0 ? "ORDER_PAID" : "ORDER_CANCELLED", order, user.Id, "10")),
        }).ToList();

        await Host.TrackActivity().IncludeExternalTransports().Timeout(TrackingTimeout)
            .WaitForCondition(new HandledCount<OrderEvent>(records.Count))
            .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(_ => Kafka.ProduceManyAsync(KafkaSettings.OrderEventsTopic, records)));

        var handled = await Notifications(all => all.Where(n => n.UserId == user.Id).ToListAsync());
        handled.Count.ShouldBe(80);
        // Position is the order in which the user's notifications were stored (a batch shares one CreatedAt).
        foreach (var order in handled.GroupBy(n => n.OrderId))
            order.OrderBy(n => n.Position).Select(n => n.Type).ShouldBe(
                ["ORDER_CREATED", order.Key % 2 == 0 ? "ORDER_PAID" : "ORDER_CANCELLED"], $"order {order.Key} was handled out of order");
    }

    [Theory]
    [InlineData("""{"eventType":"ORDER_CREATED","timestamp":"2025-01-30T10:15:30.123Z","orderId":5,"userId":5,"totalAmount":1}""")]
    [InlineData("""{"eventId":"00000000-0000-0000-0000-000000000000","eventType":"ORDER_CREATED","timestamp":"2025-01-30T10:15:30.123Z","orderId":5,"userId":5,"totalAmount":1}""")]
    [InlineData("""{"eventId":"8f1d3d3e-8d4c-4a8e-9f57-3c0c2b7e0a11","eventType":"ORDER_CREATED","timestamp":"2025-01-30T10:15:30.123Z","orderId":5,"totalAmount":1}""")]
    public async Task an_event_without_an_event_id_or_a_user_is_dead_lettered_not_guessed(string record)
    {
        var marker = Guid.NewGuid().ToString();
        var poison = record.Replace("\"totalAmount\":1", $"\"totalAmount\":1,\"note\":\"{marker}\"");
        await ProduceAndWait(1, ("5", poison, new Partition(2)), ("5", Json(Guid.NewGuid(), "ORDER_CREATED", 5, 5, "1"), new Partition(2)));

        (await Notifications(all => all.CountAsync())).ShouldBe(1); // only the valid record that followed
        Kafka.ReadUntil(KafkaSettings.DeadLetterTopic, r => Encoding.UTF8.GetString(r.Message.Value).Contains(marker)).ShouldHaveSingleItem();
    }

    [Fact]
    public async Task notifications_are_listed_newest_first_paged_and_only_to_their_user()
    {
        var alice = await RegisterAndLogin();
        var bob = await RegisterAndLogin();
        await ProduceAndWait(4,
            ("1", Json(Guid.NewGuid(), "ORDER_CREATED", 1, alice.Id, "1"), new Partition(0)),
            ("1", Json(Guid.NewGuid(), "ORDER_PAID", 1, alice.Id, "1"), new Partition(0)),
            ("2", Json(Guid.NewGuid(), "ORDER_CREATED", 2, bob.Id, "2"), new Partition(0)),
            ("1", Json(Guid.NewGuid(), "ORDER_CANCELLED", 1, alice.Id, "1"), new Partition(0)));

        var page = await (await Host.Scenario(s =>
        {
            s.Get.Url("/api/notifications?page=1&pageSize=2");
            s.WithBearerToken(alice.Token);
        })).Json();
        page.GetProperty("totalCount").GetInt64().ShouldBe(3);
        page.GetProperty("items").EnumerateArray().Select(n => n.GetProperty("type").GetString()).ShouldBe(["ORDER_CANCELLED", "ORDER_PAID"]);
        var first = page.GetProperty("items")[0];
        first.EnumerateObject().Select(p => p.Name).ShouldBe(["id", "userId", "type", "message", "orderId", "eventId", "createdAt"], ignoreOrder: true);

        (await NotificationsOf(bob)).ShouldHaveSingleItem().OrderId.ShouldBe(2);
        await Host.Scenario(s =>
        {
            s.Get.Url("/api/notifications");
            s.StatusCodeShouldBe(HttpStatusCode.Unauthorized);
        });
    }
}
