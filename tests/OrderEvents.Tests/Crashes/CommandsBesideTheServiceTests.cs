using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OrderEvents.Infrastructure.Kafka;
using OrderEvents.Tests.Support;
using Xunit.Abstractions;

namespace OrderEvents.Tests.Crashes;

/// <summary>`OrderEvents replay` against a real (standalone) broker, as an operator would run it.</summary>
[Trait("Category", "Crashes")]
[Collection(CrashCollection.Name)]
public sealed class ReplayCommandTests(ITestOutputHelper output)
{
    /// <summary>
    /// The replay runs while the app, a consumer of the group, is alive. Behind the replayed record the test puts a
    /// marker on the same partition (the order's next event, same key); the consumer takes a partition in order, so
    /// once the marker is notified the replayed record was consumed too. Only then are the notifications counted.
    /// </summary>
    [Fact]
    public async Task the_replay_command_republishes_one_orders_events_to_a_live_consumer_and_creates_no_new_notification()
    {
        var database = await TestPostgres.CreateDatabaseAsync();
        var log = new EventLog(database);
        await using var broker = await StandaloneBroker.StartAsync();
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings__Postgres"] = database,
            ["KAFKA_BROKERS"] = broker.BootstrapServers,
            ["KAFKA_GROUP_ID"] = "replay-" + Guid.NewGuid().ToString("N")[..8],
            ["Logging__LogLevel__Default"] = "Warning",
        };

        await using var app = await AppProcess.ServeAsync(settings, "app", output);
        var token = await app.RegisterAndLoginAsync($"replay-{Guid.NewGuid():N}@tests.local");
        using var placed = await app.PlaceOrderAsync(token);
        placed.StatusCode.ShouldBe(HttpStatusCode.Created);
        var orderId = (await placed.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        using var other = await app.PlaceOrderAsync(token);
        other.StatusCode.ShouldBe(HttpStatusCode.Created);
        (await log.WaitUntilEveryEventIsNotified(DateTime.UtcNow, TimeSpan.FromSeconds(45))).ShouldNotBeNull();
        var eventId = (Guid)(await Sql.ScalarAsync(database, $"select id from orderevents.mt_events where stream_id = '{orderId}'"))!;

        await using (var replay = AppProcess.Start(["replay", "--order", orderId.ToString()], settings, "replay", output))
        {
            (await replay.WaitForExitAsync(TimeSpan.FromMinutes(2))).ShouldBe(0, replay.Output);
            replay.Output.ShouldContain("Replayed 1 order events to Kafka");
        }

        // The marker: paying the order publishes its next event with the same key, after the replayed record.
        using (var pay = new HttpRequestMessage(HttpMethod.Patch, $"/api/orders/{orderId}/pay"))
        {
            pay.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            (await app.Client.SendAsync(pay)).StatusCode.ShouldBe(HttpStatusCode.OK);
        }

        await app.WaitUntilAsync(async () => (long)(await Sql.ScalarAsync(database,
                $"select count(*) from notifications.notifications where order_id = {orderId} and type = 'ORDER_PAID'"))! > 0,
            TimeSpan.FromSeconds(45), "the marker (ORDER_PAID) to be notified");

        (await Sql.ScalarAsync(database, $"select count(*) from notifications.notifications where order_id = {orderId}")).ShouldBe(2L,
            "one ORDER_CREATED and one ORDER_PAID: the replayed record made no new notification");
        (await log.CreatedNotifications()).ShouldBe(2);
        (await log.Unnotified()).ShouldBe(0);
        (await log.Orphans()).ShouldBe(0);

        // On the partition: the event as first published, the replayed copy (same key, same event id), then the marker.
        var records = new KafkaProbe(broker.BootstrapServers).ReadUntil(KafkaSettings.OrderEventsTopic,
            record => record.Message.Key == orderId.ToString(), count: 3);
        records.Select(r => Encoding.UTF8.GetString(r.Message.Value).Contains(eventId.ToString()))
            .ShouldBe([true, true, false], "first publication, replay, marker");
        records.Select(r => r.Offset.Value).ShouldBeInOrder();
        records.Select(r => r.Partition.Value).Distinct().ShouldHaveSingleItem();
    }
}
