using System.Net;
using Alba;
using System.Text;
using System.Text.Json;
using OrderEvents.Infrastructure.Kafka;
using OrderEvents.Tests.Support;
using static OrderEvents.Tests.Orders.OrderScenarios;

namespace OrderEvents.Tests.Orders;

/// <summary>What a non-Wolverine consumer of `order-events` sees.</summary>
[Collection(AppCollection.Name)]
public sealed class OrderEventWireFormatTests(AppFixture fixture) : IntegrationContext(fixture)
{
    [Fact]
    public async Task each_record_is_plain_camel_case_json_with_exactly_the_contract_fields_keyed_by_order_id()
    {
        var user = await RegisterAndLogin();
        var (_, created) = await TrackedHttpCall(s =>
        {
            s.PlaceOrder(user, Items((1, 1), (3, 2)));
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        var orderId = (await created.Json()).GetProperty("id").GetInt64();
        await TrackedHttpCall(s =>
        {
            s.ChangeOrder(user, orderId, "pay");
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var records = new KafkaProbe(Fixture.BootstrapServers)
            .ReadUntil(KafkaSettings.OrderEventsTopic, r => r.Message.Key == orderId.ToString(), count: 2);

        records.Count.ShouldBe(2);
        records.Select(r => r.Partition.Value).Distinct().ShouldHaveSingleItem(); // one order, one partition
        records[0].Offset.Value.ShouldBeLessThan(records[1].Offset.Value);

        var events = records.Select(r => JsonDocument.Parse(Encoding.UTF8.GetString(r.Message.Value)).RootElement).ToList();
        events.Select(e => e.GetProperty("eventType").GetString()).ShouldBe(["ORDER_CREATED", "ORDER_PAID"]);
        foreach (var e in events)
        {
            e.EnumerateObject().Select(p => p.Name).ShouldBe(["eventId", "eventType", "timestamp", "orderId", "userId", "totalAmount", "version"], ignoreOrder: true);
            Guid.TryParse(e.GetProperty("eventId").GetString(), out _).ShouldBeTrue();
            e.GetProperty("timestamp").GetString()!.ShouldMatch(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$");
            e.GetProperty("orderId").ValueKind.ShouldBe(JsonValueKind.Number);
            e.GetProperty("orderId").GetInt64().ShouldBe(orderId);
            e.GetProperty("userId").GetInt64().ShouldBe(user.Id);
            e.GetProperty("totalAmount").ValueKind.ShouldBe(JsonValueKind.Number);
            e.GetProperty("totalAmount").GetRawText().ShouldBe("15025");
            e.GetProperty("version").ValueKind.ShouldBe(JsonValueKind.Number);
        }

        // version is the event's version in the order's stream, as the log (the order's history) has it.
        var history = (await (await Host.Scenario(s =>
        {
            s.Get.Url($"/api/orders/{orderId}/events");
            s.WithBearerToken(user.Token);
        })).Json()).EnumerateArray().ToList();
        events.Select(e => e.GetProperty("version").GetInt64()).ShouldBe([1L, 2L]);
        events.Select(e => (e.GetProperty("eventId").GetString(), e.GetProperty("version").GetInt64()))
            .ShouldBe(history.Select(h => (h.GetProperty("eventId").GetString(), h.GetProperty("version").GetInt64())));
    }
}
