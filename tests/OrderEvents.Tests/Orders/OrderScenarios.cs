using System.Net;
using System.Text.Json;
using Alba;
using OrderEvents.Features.Orders;
using OrderEvents.Tests.Support;
using Wolverine.Tracking;

namespace OrderEvents.Tests.Orders;

/// <summary>Order helpers shared by the order, notification and Kafka test classes.</summary>
public static class OrderScenarios
{
    public static CreateOrderRequest Items(params (long ProductId, int Quantity)[] lines) =>
        new(lines.Select(line => new OrderLine(line.ProductId, line.Quantity)).ToList());

    public static void PlaceOrder(this Scenario s, TestUser user, CreateOrderRequest request)
    {
        s.Post.Json(request).ToUrl("/api/orders");
        s.WithBearerToken(user.Token);
    }

    public static void ChangeOrder(this Scenario s, TestUser user, long orderId, string action)
    {
        s.Patch.Url($"/api/orders/{orderId}/{action}");
        s.WithBearerToken(user.Token);
    }

    /// <summary>The order events this tracked session saw published (to Kafka or the local queue).</summary>
    public static IReadOnlyList<OrderEvent> PublishedOrderEvents(this ITrackedSession tracked) =>
        tracked.Sent.MessagesOf<OrderEvent>().ToList();

    public static HttpStatusCode Status(this IScenarioResult result) => (HttpStatusCode)result.Context.Response.StatusCode;
}
