using System.Text;
using Confluent.Kafka;
using OrderEvents.Features.Orders;
using OrderEvents.Infrastructure.Kafka;
using OrderEvents.Tests.Support;
using Wolverine.Tracking;

namespace OrderEvents.Tests.Faults;

/// <summary>Records of about 1 MB that are not events are dead-lettered whole, and their partition keeps moving.</summary>
[Collection(AppCollection.Name)]
[Trait("Category", "Faults")]
public sealed class LargePoisonRecordTests(AppFixture fixture) : IntegrationContext(fixture)
{
    private const int OneMegabyte = 1024 * 1024;

    [Fact]
    public async Task one_megabyte_poison_records_are_dead_lettered_and_the_next_record_becomes_a_notification()
    {
        var user = await RegisterAndLogin();
        var marker = Guid.NewGuid().ToString("N");
        var notJson = "{ not json " + marker + new string('x', OneMegabyte);
        // Valid JSON, but no event id: not an event (dead-lettered, never guessed).
        var notAnEvent = $$"""{"eventType":"ORDER_CREATED","timestamp":"2025-01-30T10:15:30.123Z","orderId":66,"userId":{{user.Id}},"totalAmount":1,"note":"{{marker}}{{new string('y', OneMegabyte)}}"}""";
        var validEventId = Guid.NewGuid();
        var valid = $$"""{"eventId":"{{validEventId}}","eventType":"ORDER_CREATED","timestamp":"2025-01-30T10:15:30.123Z","orderId":66,"userId":{{user.Id}},"totalAmount":1}""";

        await Host.TrackActivity().IncludeExternalTransports().Timeout(TrackingTimeout)
            .DoNotAssertOnExceptionsDetected()
            .WaitForCondition(new HandledCount<OrderEvent>(1, countDiscarded: true))
            .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(async _ =>
            {
                // An outside producer allowed to send 1 MB records (librdkafka's default limit is 1,000,000 bytes).
                using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig
                {
                    BootstrapServers = Fixture.BootstrapServers,
                    MessageMaxBytes = 2 * OneMegabyte,
                }).Build();
                var partition = new TopicPartition(KafkaSettings.OrderEventsTopic, new Partition(0));
                foreach (var value in new[] { notJson, notAnEvent, valid })
                {
                    var result = await producer.ProduceAsync(partition, new Message<string, byte[]> { Key = "66", Value = Encoding.UTF8.GetBytes(value) });
                    result.Status.ShouldBe(PersistenceStatus.Persisted);
                }
            }));

        (await NotificationsOf(user)).ShouldHaveSingleItem().EventId.ShouldBe(validEventId);
        var dead = new KafkaProbe(Fixture.BootstrapServers)
            .ReadUntil(KafkaSettings.DeadLetterTopic, r => Encoding.UTF8.GetString(r.Message.Value).Contains(marker), count: 2);
        dead.Count.ShouldBe(2, "both 1 MB poison records must reach the dead-letter topic");
        dead.Select(r => r.Message.Value.Length).ShouldAllBe(length => length > OneMegabyte);
    }
}
