using System.Net;
using Alba;
using Confluent.Kafka;
using OrderEvents.Features.Orders;
using OrderEvents.Infrastructure.Kafka;
using OrderEvents.Tests.Support;
using Wolverine.Tracking;
using static OrderEvents.Tests.Orders.OrderScenarios;

namespace OrderEvents.Tests.Faults;

/// <summary>Records the listener already handled arrive again: nothing is notified twice.</summary>
[Collection(AppCollection.Name)]
[Trait("Category", "Faults")]
public sealed class TopicReplayTests(AppFixture fixture) : IntegrationContext(fixture)
{
    [Theory]
    [InlineData(true)]  // as on the topic: Wolverine's headers, so the same envelope ids (an offset reset, a replay)
    [InlineData(false)] // an outside producer sending the bare values again: new envelope ids, same event ids
    public async Task every_record_of_the_topic_produced_again_creates_no_new_notification(bool withOriginalHeaders)
    {
        var user = await RegisterAndLogin();
        var orderIds = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var (_, created) = await TrackedHttpCall(s =>
            {
                s.PlaceOrder(user, Items((1, i + 1)));
                s.StatusCodeShouldBe(HttpStatusCode.Created);
            });
            orderIds.Add((await created.Json()).GetProperty("id").GetInt64().ToString());
        }
        await TrackedHttpCall(s =>
        {
            s.ChangeOrder(user, long.Parse(orderIds[0]), "pay");
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        var before = await NotificationsOf(user);
        before.Count.ShouldBe(4);

        // The topic from offset 0, these orders' records (earlier tests' records have lost their notifications to the
        // per-test truncate, so they would rightly be notified again and are left out).
        var records = new KafkaProbe(Fixture.BootstrapServers)
            .ReadUntil(KafkaSettings.OrderEventsTopic, r => orderIds.Contains(r.Message.Key), count: 4);
        records.Count.ShouldBe(4);

        var replay = await Host.TrackActivity().IncludeExternalTransports().Timeout(TrackingTimeout)
            .DoNotAssertOnExceptionsDetected()
            // Bare records are new envelopes: stored again (the primary key absorbs them). Records with their
            // original headers are the same envelopes: the durable inbox drops them (checked through ListenerPassed).
            .WaitForCondition(new HandledCount<OrderEvent>(withOriginalHeaders ? 0 : 4))
            .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(async _ =>
            {
                using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = Fixture.BootstrapServers }).Build();
                foreach (var record in records)
                    await producer.ProduceAsync(KafkaSettings.OrderEventsTopic, new Message<string, byte[]>
                    {
                        Key = record.Message.Key,
                        Value = record.Message.Value,
                        Headers = withOriginalHeaders ? record.Message.Headers : [],
                    });
            }));

        await ListenerPassed(orderIds);
        if (!withOriginalHeaders) replay.Executed.MessagesOf<OrderEvent>().Count().ShouldBe(4, "every replayed record reached the handler");
        var after = await NotificationsOf(user);
        after.Select(n => n.Id).ShouldBe(before.Select(n => n.Id), ignoreOrder: true);
        after.Select(n => n.EventId).Distinct().Count().ShouldBe(4);
    }
}
