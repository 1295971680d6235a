using System.Diagnostics;
using System.Net;
using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using OrderEvents.Features.Notifications;
using OrderEvents.Features.Orders;
using OrderEvents.Infrastructure.Kafka;
using OrderEvents.Infrastructure.Telemetry;
using OrderEvents.Tests.Orders;
using OrderEvents.Tests.Support;
using Wolverine.Tracking;
using static OrderEvents.Tests.Orders.OrderScenarios;

namespace OrderEvents.Tests.Operations;

/// <summary>One order is one trace: HTTP request, outbox send, Kafka, notification handler.</summary>
[Collection(AppCollection.Name)]
public sealed class TracingTests(AppFixture fixture) : IntegrationContext(fixture)
{
    [Fact]
    public async Task an_order_is_one_trace_from_the_http_request_through_kafka_into_the_notification_handler()
    {
        var user = await RegisterAndLogin();
        var since = DateTime.UtcNow;
        var (_, result) = await TrackedHttpCall(s =>
        {
            s.PlaceOrder(user, Items((1, 1)));
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        var orderId = (await result.Json()).GetProperty("id").GetInt64();

        var server = Fixture.Telemetry.Spans.SingleSpan(span =>
            span.StartTimeUtc >= since && span.Kind == ActivityKind.Server && Equals(span.GetTagItem("order.id"), orderId), "the POST /api/orders span");
        server.GetTagItem("http.request.method").ShouldBe("POST");
        var trace = server.TraceId;

        // The handler span ends after the tracked session saw the message succeed: wait for the spans to be exported.
        var spans = await Fixture.Telemetry.WaitForSpans(
            all => all.Any(span => IsHandlerOf(span, orderId) && span.TraceId == trace), TrackingTimeout);
        var wolverine = spans.Where(span => span.Source.Name == TelemetrySetup.WolverineSource && span.TraceId == trace).ToList();

        var send = wolverine.SingleSpan(span => span.Kind == ActivityKind.Producer, "an outbox send span");
        $"{send.GetTagItem("messaging.destination")}".ShouldContain(KafkaSettings.OrderEventsTopic);
        send.ParentSpanId.ShouldBe(server.SpanId);
        // The inline Kafka listener runs the handler inside its receive span (Wolverine adds no separate execution
        // span there): the consumer span names the handler and carries the audited order and event ids.
        var handler = wolverine.SingleSpan(span => IsHandlerOf(span, orderId), "the Kafka receive span of the notification handler");
        handler.GetTagItem("event.id").ShouldNotBeNull();
        handler.ParentSpanId.ShouldBe(server.SpanId); // the record's parent is the request that published it
        // The handler's database work (the notification insert) is traced under it.
        spans.ShouldContain(span => span.Source.Name == "Npgsql" && span.ParentSpanId == handler.SpanId, SpanAssertions.Describe(spans.Where(span => span.TraceId == trace)));

        // Background database polling is not traced on its own: every database span belongs to a request or a message.
        Fixture.Telemetry.Spans.ShouldNotContain(span => span.Source.Name == "Npgsql" && span.ParentSpanId == default);

        // On the wire: the standard W3C header, naming this trace (order ids repeat across tests: match the trace too).
        new KafkaProbe(Fixture.BootstrapServers).ReadUntil(KafkaSettings.OrderEventsTopic,
                r => r.Message.Key == orderId.ToString() && TraceOf(r.Message.Headers) == trace, timeoutSeconds: 10)
            .ShouldHaveSingleItem("the order's record carries a traceparent header of the request's trace");
    }

    [Fact]
    public async Task a_record_from_another_service_with_a_traceparent_header_continues_that_trace()
    {
        var user = await RegisterAndLogin();
        var upstream = ActivityTraceId.CreateRandom();
        var upstreamSpan = ActivitySpanId.CreateRandom();
        var json = $$"""{"eventId":"{{Guid.NewGuid()}}","eventType":"ORDER_PAID","timestamp":"2025-01-30T10:15:30.123Z","orderId":4242,"userId":{{user.Id}},"totalAmount":7}""";
        var message = new Message<string, byte[]>
        {
            Key = "4242",
            Value = Encoding.UTF8.GetBytes(json),
            Headers = new Headers { { "traceparent", Encoding.UTF8.GetBytes($"00-{upstream}-{upstreamSpan}-01") } },
        };

        await Host.TrackActivity().IncludeExternalTransports().Timeout(TrackingTimeout)
            .WaitForCondition(new HandledCount<OrderEvent>(1))
            .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(async _ =>
            {
                using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = Fixture.BootstrapServers }).Build();
                await producer.ProduceAsync(KafkaSettings.OrderEventsTopic, message);
            }));

        var spans = await Fixture.Telemetry.WaitForSpans(all => all.Any(span => IsHandlerOf(span, 4242)), TrackingTimeout);
        var handler = spans.SingleSpan(span => IsHandlerOf(span, 4242), "the handler's receive span");
        handler.TraceId.ShouldBe(upstream);
        handler.ParentSpanId.ShouldBe(upstreamSpan);
        (await NotificationsOf(user)).ShouldHaveSingleItem().OrderId.ShouldBe(4242);
    }

    [Fact]
    public async Task log_lines_written_while_an_event_is_handled_carry_its_order_id_event_id_and_trace_id()
    {
        var eventId = Guid.NewGuid();
        var upstream = ActivityTraceId.CreateRandom();
        // An event type this service does not know: the handler logs a warning about it and stores nothing.
        var json = $$"""{"eventId":"{{eventId}}","eventType":"ORDER_SHIPPED","timestamp":"2025-01-30T10:15:30.123Z","orderId":5151,"userId":7,"totalAmount":7}""";
        await Host.TrackActivity().IncludeExternalTransports().Timeout(TrackingTimeout)
            .WaitForCondition(new HandledCount<OrderEvent>(1))
            .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(async _ =>
            {
                using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = Fixture.BootstrapServers }).Build();
                await producer.ProduceAsync(KafkaSettings.OrderEventsTopic, new Message<string, byte[]>
                {
                    Key = "5151",
                    Value = Encoding.UTF8.GetBytes(json),
                    Headers = new Headers { { "traceparent", Encoding.UTF8.GetBytes($"00-{upstream}-{ActivitySpanId.CreateRandom()}-01") } },
                });
            }));

        var warning = Fixture.Telemetry.Logs.Entries.Single(entry => entry.Level == LogLevel.Warning && entry.Message.Contains(eventId.ToString()));
        warning.Scope["orderId"].ShouldBe(5151L);
        warning.Scope["eventId"].ShouldBe(eventId);
        warning.Scope["TraceId"]?.ToString().ShouldBe(upstream.ToString());
    }

    private static ActivityTraceId? TraceOf(Headers headers) =>
        headers.TryGetLastBytes(W3CTraceContext.TraceParentHeader, out var value) &&
        ActivityContext.TryParse(Encoding.UTF8.GetString(value), null, out var context)
            ? context.TraceId
            : null;

    private static bool IsHandlerOf(Activity span, long orderId) =>
        span.Source.Name == TelemetrySetup.WolverineSource && span.Kind == ActivityKind.Consumer &&
        Equals(span.GetTagItem("message.handler"), typeof(NotifyUserHandler).FullName) && Equals(span.GetTagItem("order.id"), orderId);
}

internal static class SpanAssertions
{
    public static Activity SingleSpan(this IEnumerable<Activity> spans, Func<Activity, bool> match, string what)
    {
        var found = spans.Where(match).ToList();
        found.Count.ShouldBe(1, $"expected {what}; spans: {Describe(spans)}");
        return found[0];
    }

    public static string Describe(IEnumerable<Activity> spans) => string.Join("\n", spans.Select(s =>
        $"{s.Source.Name}/{s.Kind}/{s.DisplayName} trace {s.TraceId} parent {s.ParentSpanId} span {s.SpanId} [{string.Join(", ", s.TagObjects.Select(t => $"{t.Key}={t.Value}"))}]"));
}
