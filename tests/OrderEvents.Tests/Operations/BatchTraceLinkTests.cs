using System.Diagnostics;
using OrderEvents.Tests.Support;

namespace OrderEvents.Tests.Operations;

/// <summary>An order's trace leads to the notification batch that stored its notification: the batch span links to it.</summary>
[Collection(AppCollection.Name)]
public sealed class BatchTraceLinkTests(AppFixture fixture) : IntegrationContext(fixture)
{
    [Fact]
    public async Task the_batch_span_that_stored_an_orders_notification_links_to_the_orders_trace()
    {
        var trace = (await PlaceTracedOrder()).Request.TraceId;

        // From the order's trace id to the batch: the one batch span with a link into that trace.
        var spans = await Fixture.Telemetry.WaitForSpans(all => all.Any(span => Spans.IsNotificationBatch(span) && LinksTo(span, trace)), TrackingTimeout);
        var batch = spans.SingleSpan(span => Spans.IsNotificationBatch(span) && LinksTo(span, trace), "a notification batch span linked to the order's trace");
        batch.TraceId.ShouldNotBe(trace, "the batch is a trace of its own, linked, not a child");
        batch.Links.Count().ShouldBe(Convert.ToInt32(batch.GetTagItem("messaging.batch.message_count")), "one link per event of the batch");
    }

    private static bool LinksTo(Activity span, ActivityTraceId trace) => span.Links.Any(link => link.Context.TraceId == trace);
}
