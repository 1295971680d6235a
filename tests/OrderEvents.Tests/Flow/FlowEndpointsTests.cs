using System.Net;
using System.Text;
using System.Text.Json;
using Alba;
using OrderEvents.Infrastructure.Kafka;
using OrderEvents.Tests.Support;
using static OrderEvents.Tests.Orders.OrderScenarios;

namespace OrderEvents.Tests.Flow;

/// <summary>
/// The flow page's helper endpoints on the development host. This host reaches its broker through KAFKA_BROKERS, as an
/// app on a real Kafka does, so the fault buttons must refuse here.
/// </summary>
[Collection(DevHostCollection.Name)]
public sealed class FlowEndpointsTests(DevHostAppFixture fixture) : IntegrationContext(fixture)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task the_page_is_served_at_the_root_with_a_same_origin_content_security_policy()
    {
        var page = await Host.Scenario(s =>
        {
            s.Get.Url("/");
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        page.Context.Response.ContentType.ShouldStartWith("text/html");
        page.Context.Response.Headers.ContentSecurityPolicy.ToString().ShouldStartWith("default-src 'self'");
        var html = await page.ReadAsTextAsync();
        html.ShouldContain("<script type=\"module\" src=\"flow.js\">");
        // Nothing from another host: no absolute URL in the page.
        html.ShouldNotContain("http://");
        html.ShouldNotContain("https://");

        foreach (var file in new[] { "/flow.js", "/flow.css", "/favicon.svg" })
            await Host.Scenario(s =>
            {
                s.Get.Url(file);
                s.StatusCodeShouldBe(HttpStatusCode.OK);
            });
    }

    [Fact]
    public async Task the_config_says_which_broker_and_why_the_fault_buttons_cannot_work_here()
    {
        var config = await (await Host.Scenario(s => s.Get.Url("/flow/config"))).Json();
        config.GetProperty("kafka").GetString().ShouldBe("external");
        config.GetProperty("topic").GetString().ShouldBe(KafkaSettings.OrderEventsTopic);
        var faults = config.GetProperty("faults");
        faults.GetProperty("available").GetBoolean().ShouldBeFalse();
        faults.GetProperty("reason").GetString()!.ShouldContain("KAFKA_BROKERS");
        faults.GetProperty("maxOutageSeconds").GetInt32().ShouldBe(60);
        faults.GetProperty("maxBurstOrders").GetInt32().ShouldBe(1000);
    }

    [Theory]
    [InlineData("GET", "/flow/pipeline")]
    [InlineData("GET", "/flow/records")]
    [InlineData("POST", "/flow/faults/broker-outage")]
    [InlineData("DELETE", "/flow/faults/broker-outage")]
    [InlineData("POST", "/flow/faults/burst")]
    public async Task the_helpers_need_a_signed_in_user(string method, string url)
    {
        var result = await Host.Scenario(s =>
        {
            Send(s, method, url, null);
            s.StatusCodeShouldBe(HttpStatusCode.Unauthorized);
        });
        result.Context.Response.ContentType.ShouldBe("application/problem+json");
    }

    [Theory]
    [InlineData("POST", "/flow/faults/broker-outage", """{"seconds":10}""")]
    [InlineData("DELETE", "/flow/faults/broker-outage", null)]
    [InlineData("POST", "/flow/faults/burst", """{"orders":10}""")]
    public async Task a_user_who_is_not_an_admin_gets_403_from_the_fault_endpoints(string method, string url, string? body)
    {
        var user = await RegisterAndLogin();
        var result = await Host.Scenario(s =>
        {
            Send(s, method, url, body);
            s.WithBearerToken(user.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Forbidden);
        });
        result.Context.Response.ContentType.ShouldBe("application/problem+json");
        await NoOrdersWerePlacedFor(user);
    }

    [Theory]
    [InlineData("/flow/faults/broker-outage", """{"seconds":0}""", "seconds")]
    [InlineData("/flow/faults/broker-outage", """{"seconds":61}""", "seconds")]
    [InlineData("/flow/faults/broker-outage", """{"seconds":-5}""", "seconds")]
    [InlineData("/flow/faults/burst", """{"orders":0}""", "orders")]
    [InlineData("/flow/faults/burst", """{"orders":1001}""", "orders")]
    public async Task numbers_out_of_range_are_a_400_naming_the_field(string url, string body, string field)
    {
        var admin = await LoginAsAdmin();
        var problem = await (await Host.Scenario(s =>
        {
            Send(s, "POST", url, body);
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.BadRequest);
        })).Json();
        problem.GetProperty("errors").TryGetProperty(field, out var messages).ShouldBeTrue(problem.ToString());
        messages[0].GetString()!.ShouldContain("between 1 and");
        await NoOrdersWerePlacedFor(admin);
    }

    [Theory]
    [InlineData("""{"seconds":"ten"}""", "application/json", 400)]
    [InlineData("""{"seconds":10,"minutes":1}""", "application/json", 400)]
    [InlineData("""{"seconds":1e10}""", "application/json", 400)]
    [InlineData("""{"seconds":""", "application/json", 400)]
    [InlineData("", "application/json", 400)]
    [InlineData("seconds=10", "text/plain", 415)]
    public async Task an_unreadable_body_is_a_4xx_problem(string body, string contentType, int status)
    {
        var admin = await LoginAsAdmin();
        var result = await Host.Scenario(s =>
        {
            Send(s, "POST", "/flow/faults/broker-outage", body, contentType);
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(status);
        });
        result.Context.Response.ContentType.ShouldBe("application/problem+json");
        (await result.ReadAsTextAsync()).ShouldNotContain("System.");
    }

    [Theory]
    [InlineData("POST", "/flow/faults/broker-outage", """{"seconds":10}""")]
    [InlineData("DELETE", "/flow/faults/broker-outage", null)]
    [InlineData("POST", "/flow/faults/burst", """{"orders":10}""")]
    public async Task without_the_embedded_broker_the_fault_endpoints_refuse_with_409_and_change_nothing(string method, string url, string? body)
    {
        var admin = await LoginAsAdmin();
        var problem = await (await Host.Scenario(s =>
        {
            Send(s, method, url, body);
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Conflict);
        })).Json();
        problem.GetProperty("detail").GetString()!.ShouldContain("embedded broker");
        await NoOrdersWerePlacedFor(admin);
        // The broker is still up: a record still becomes a notification.
        await PipelineFlowsAgain();
    }

    [EmbeddedBrokerFact]
    public async Task the_pipeline_counts_the_events_waiting_in_the_outbox()
    {
        var user = await RegisterAndLogin();
        (await Pipeline(user)).GetProperty("outbox").GetInt64().ShouldBe(0);

        // The test's broker down (the app only knows its address): the order's event stays in the outbox.
        var broker = Fixture.Broker!;
        broker.TakeDown();
        try
        {
            await Host.Scenario(s =>
            {
                s.PlaceOrder(user, Items((1, 1)));
                s.StatusCodeShouldBe(HttpStatusCode.Created);
            });
            var pipeline = await Pipeline(user);
            pipeline.GetProperty("outbox").GetInt64().ShouldBe(1);
            // The app did not take this broker down: its own outage switch is off.
            pipeline.GetProperty("broker").GetProperty("down").GetBoolean().ShouldBeFalse();
        }
        finally
        {
            broker.BringUp();
        }

        await PipelineFlowsAgain();
        var deadline = DateTime.UtcNow + TrackingTimeout;
        while ((await Pipeline(user)).GetProperty("outbox").GetInt64() > 0)
        {
            DateTime.UtcNow.ShouldBeLessThan(deadline, "the outbox never drained");
            await Task.Delay(100); // polling interval, as the page does
        }
    }

    private async Task<JsonElement> Pipeline(TestUser user) =>
        await (await Host.Scenario(s =>
        {
            s.Get.Url("/flow/pipeline");
            s.WithBearerToken(user.Token);
        })).Json();

    [Fact]
    public async Task the_record_stream_shows_the_exact_record_to_its_user_and_an_admin_and_never_to_another_user()
    {
        var alice = await RegisterAndLogin();
        var bob = await RegisterAndLogin();
        var admin = await LoginAsAdmin();
        await using var alicesRecords = await Connect(alice);
        await using var bobsRecords = await Connect(bob);
        await using var allRecords = await Connect(admin);

        var alicesOrder = await PlaceOrder(alice);
        var tapped = (await alicesRecords.NextEventAsync(Deadline)).Json;
        tapped.GetProperty("topic").GetString().ShouldBe(KafkaSettings.OrderEventsTopic);
        tapped.GetProperty("key").GetString().ShouldBe(alicesOrder.ToString());
        var value = JsonDocument.Parse(tapped.GetProperty("value").GetString()!).RootElement;
        value.GetProperty("orderId").GetInt64().ShouldBe(alicesOrder);
        value.GetProperty("userId").GetInt64().ShouldBe(alice.Id);
        value.GetProperty("eventType").GetString().ShouldBe("ORDER_CREATED");
        tapped.GetProperty("headers").EnumerateArray().Select(header => header.GetProperty("name").GetString()).ShouldContain("id");

        // The value is the record's bytes as the broker holds them, at the partition and offset the tap reported.
        var partition = tapped.GetProperty("partition").GetInt32();
        var offset = tapped.GetProperty("offset").GetInt64();
        var onTheBroker = new KafkaProbe(Fixture.BootstrapServers)
            .ReadUntil(KafkaSettings.OrderEventsTopic, record => record.Partition.Value == partition && record.Offset.Value == offset).Single();
        onTheBroker.Message.Key.ShouldBe(alicesOrder.ToString());
        tapped.GetProperty("value").GetString().ShouldBe(Encoding.UTF8.GetString(onTheBroker.Message.Value));

        // The admin sees every record; once it saw Alice's, the tap has handed that record to every stream it may reach.
        (await allRecords.NextEventAsync(Deadline)).Json.GetProperty("offset").GetInt64().ShouldBe(offset);
        var bobsOrder = await PlaceOrder(bob);
        var bobsFirst = JsonDocument.Parse((await bobsRecords.NextEventAsync(Deadline)).Json.GetProperty("value").GetString()!).RootElement;
        bobsFirst.GetProperty("orderId").GetInt64().ShouldBe(bobsOrder, "Bob's stream showed someone else's record");
        JsonDocument.Parse((await allRecords.NextEventAsync(Deadline)).Json.GetProperty("value").GetString()!).RootElement
            .GetProperty("orderId").GetInt64().ShouldBe(bobsOrder);
    }

    private static void Send(Scenario s, string method, string url, string? body, string contentType = "application/json") =>
        s.ConfigureHttpContext(context =>
        {
            context.Request.Method = method;
            context.Request.Path = url;
            if (body is null) return;
            var bytes = Encoding.UTF8.GetBytes(body);
            context.Request.Body = new MemoryStream(bytes);
            context.Request.ContentLength = bytes.Length;
            context.Request.ContentType = contentType;
        });

    private async Task<SseClient> Connect(TestUser user)
    {
        var stream = await SseClient.ConnectAsync(Host.Server.CreateClient(), user.Token, path: "/flow/records");
        stream.Response.StatusCode.ShouldBe(HttpStatusCode.OK);
        stream.Response.Content.Headers.ContentType!.MediaType.ShouldBe("text/event-stream");
        await stream.WaitUntilReadyAsync(Deadline);
        return stream;
    }

    /// <summary>Places an order and waits until its notification is stored: the tap must not take records from the listener.</summary>
    private async Task<long> PlaceOrder(TestUser user)
    {
        var (_, created) = await TrackedHttpCall(s =>
        {
            s.PlaceOrder(user, Items((1, 1)));
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        var orderId = (await created.Json()).GetProperty("id").GetInt64();
        (await NotificationsOf(user)).ShouldContain(n => n.OrderId == orderId);
        return orderId;
    }

    private async Task NoOrdersWerePlacedFor(TestUser user)
    {
        var orders = await (await Host.Scenario(s =>
        {
            s.Get.Url("/api/orders");
            s.WithBearerToken(user.Token);
        })).Json();
        orders.GetProperty("totalCount").GetInt64().ShouldBe(0);
    }
}
