using System.Diagnostics;
using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using OrderEvents.Features.Orders;
using OrderEvents.Infrastructure.Kafka;
using OrderEvents.Infrastructure.Telemetry;
using OrderEvents.Tests.Support;
using Wolverine.Tracking;

namespace OrderEvents.Tests.Operations;

/// <summary>One order is one trace: HTTP request, outbox send, Kafka, notification handler.</summary>
[Collection(AppCollection.Name)]
public sealed class TracingTests(AppFixture fixture) : IntegrationContext(fixture)
{
    [Fact]
    public async Task an_order_is_one_trace_from_the_http_request_through_kafka_into_the_notification_handler()
    {
        var (orderId, since, server) = await PlaceTracedOrder();
        server.GetTagItem("http.request.method").ShouldBe("POST");
        var trace = server.TraceId;

        // The record's receive span ends after the tracked session saw its batch succeed: wait for the spans to be exported.
        var spans = await Fixture.Telemetry.WaitForSpans(
            all => all.Any(span => Spans.IsRecordReceive(span) && span.TraceId == trace) && all.Any(Spans.IsNotificationBatch), TrackingTimeout);
        var wolverine = spans.Where(span => span.Source.Name == TelemetrySetup.WolverineSource && span.TraceId == trace).ToList();

        var send = wolverine.SingleSpan(span => span.Kind == ActivityKind.Producer, "an outbox send span");
        $"{send.GetTagItem("messaging.destination")}".ShouldContain(KafkaSettings.OrderEventsTopic);
        send.ParentSpanId.ShouldBe(server.SpanId);
        // The Kafka listener receives the record inside the request's trace: its parent is the request that published it.
        var receive = wolverine.First(Spans.IsRecordReceive);
        receive.ParentSpanId.ShouldBe(server.SpanId);
        // Notifications are stored a batch at a time: one batch serves many traces, so it is a span of its own, tagged
        // with its size, and its database work (the one insert) is traced under it.
        var batch = spans.Where(span => Spans.IsNotificationBatch(span) && span.StartTimeUtc >= since).ToList();
        batch.ShouldNotBeEmpty(Spans.Describe(spans));
        batch.ShouldAllBe(span => span.GetTagItem("messaging.batch.message_count") != null);
        spans.ShouldContain(span => span.Source.Name == "Npgsql" && batch.Any(b => b.SpanId == span.ParentSpanId), Spans.Describe(spans));

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

        var spans = await Fixture.Telemetry.WaitForSpans(all => all.Any(span => Spans.IsRecordReceive(span) && span.TraceId == upstream), TrackingTimeout);
        var receive = spans.First(span => Spans.IsRecordReceive(span) && span.TraceId == upstream);
        receive.ParentSpanId.ShouldBe(upstreamSpan);
        (await NotificationsOf(user)).ShouldHaveSingleItem().OrderId.ShouldBe(4242);
    }

    [Fact]
    public async Task log_lines_written_while_an_event_is_handled_carry_its_order_id_event_id_and_trace_id()
    {
        var eventId = Guid.NewGuid();
        var upstream = ActivityTraceId.CreateRandom();
        var since = DateTime.UtcNow;
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
        // Written by the batch that stored (here: skipped) it, so the trace is that batch's own: the one batch that ran
        // since the record was produced.
        var spans = await Fixture.Telemetry.WaitForSpans(all => all.Any(span => Spans.IsNotificationBatch(span) && span.StartTimeUtc >= since), TrackingTimeout);
        var batch = spans.SingleSpan(span => Spans.IsNotificationBatch(span) && span.StartTimeUtc >= since, "the batch that handled the record");
        warning.Scope.TryGetValue("TraceId", out var traceId).ShouldBeTrue("the log line has a TraceId in its scope");
        $"{traceId}".ShouldBe(batch.TraceId.ToHexString());
    }

    private static ActivityTraceId? TraceOf(Headers headers) =>
        headers.TryGetLastBytes(W3CTraceContext.TraceParentHeader, out var value) &&
        ActivityContext.TryParse(Encoding.UTF8.GetString(value), null, out var context)
            ? context.TraceId
            : null;
}
