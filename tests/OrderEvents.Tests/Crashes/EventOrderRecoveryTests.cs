using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using OrderEvents.Infrastructure.Kafka;
using OrderEvents.Tests.Support;
using Xunit.Abstractions;

namespace OrderEvents.Tests.Crashes;

/// <summary>
/// Two nodes on one database and one broker. The victim takes an order, but its ORDER_CREATED stays in its outbox (its
/// broker address leads nowhere, as in a network partition); the survivor pays the order and publishes ORDER_PAID,
/// which its listener handles first. The victim is killed; the survivor takes over its outbox and sends ORDER_CREATED,
/// behind ORDER_PAID. The order's notifications must still be positioned CREATED, then PAID, one each.
/// </summary>
[Trait("Category", "Crashes")]
[Trait("Category", "Faults")]
[Collection(CrashCollection.Name)]
public sealed class EventOrderRecoveryTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(45);

    [Fact]
    public async Task an_order_created_on_a_node_killed_with_it_in_its_outbox_and_paid_on_the_survivor_is_notified_in_version_order()
    {
        var database = await TestPostgres.CreateDatabaseAsync();
        var log = new EventLog(database);
        await using var broker = await StandaloneBroker.StartAsync();
        Dictionary<string, string?> Settings(string brokers) => new()
        {
            ["ConnectionStrings__Postgres"] = database,
            ["KAFKA_BROKERS"] = brokers,
            ["KAFKA_GROUP_ID"] = "order-" + Guid.NewGuid().ToString("N")[..8],
            ["Logging__LogLevel__Default"] = "Warning",
        };

        await using var survivor = await AppProcess.ServeAsync(Settings(broker.BootstrapServers), "survivor", output);
        await using var victim = await AppProcess.ServeAsync(Settings($"127.0.0.1:{AppProcess.FreePort()}"), "victim", output);
        var token = await survivor.RegisterAndLoginAsync($"order-{Guid.NewGuid():N}@tests.local");

        using var placed = await victim.PlaceOrderAsync(token);
        placed.StatusCode.ShouldBe(HttpStatusCode.Created);
        var orderId = (await placed.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        (await log.UnsentOutbox()).ShouldBe(1, "ORDER_CREATED waits in the victim's outbox");

        using (var pay = new HttpRequestMessage(HttpMethod.Patch, $"/api/orders/{orderId}/pay"))
        {
            pay.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            (await survivor.Client.SendAsync(pay)).StatusCode.ShouldBe(HttpStatusCode.OK);
        }

        await survivor.WaitUntilAsync(async () => await Count(database, $"order_id = {orderId} and type = 'ORDER_PAID'") == 1,
            Deadline, "ORDER_PAID to be notified");
        (await log.UnsentOutbox()).ShouldBe(1, "ORDER_PAID was handled while ORDER_CREATED was still in the victim's outbox");

        await victim.KillAsync();
        var killedAt = DateTime.UtcNow;
        await survivor.WaitUntilAsync(async () => await log.UnsentOutbox() == 0, Deadline, "the survivor to send the victim's outbox");
        output.WriteLine($"The victim's outbox was sent {(DateTime.UtcNow - killedAt).TotalSeconds:0.0} s after the kill");

        // The late ORDER_CREATED is on the order's partition now; a sentinel behind it (same key) shows when it was consumed.
        var sentinel = Guid.NewGuid();
        await new KafkaProbe(broker.BootstrapServers).ProduceAsync(KafkaSettings.OrderEventsTopic, orderId.ToString(),
            $$"""{"eventId":"{{sentinel}}","eventType":"ORDER_CREATED","timestamp":"2025-01-30T10:15:30.123Z","orderId":424242,"userId":424242,"totalAmount":1}""");
        await survivor.WaitUntilAsync(async () => await Count(database, $"id = '{sentinel}'") == 1, Deadline, "the sentinel behind ORDER_CREATED");

        await OrderNotifications.ShouldFollowTheLog(database, orderId, 2);
        (await log.Unnotified()).ShouldBe(0);
        (await log.Orphans()).ShouldBe(1, "only the sentinel, which is not an event of the log");
    }

    private static async Task<long> Count(string database, string where) =>
        Convert.ToInt64(await Sql.ScalarAsync(database, $"select count(*) from notifications.notifications where {where}"));
}
