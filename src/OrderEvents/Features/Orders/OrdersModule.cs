using Wolverine;
using JasperFx.Events;
using Marten;
using JasperFx.Events.Projections;

namespace OrderEvents.Features.Orders;

public static class OrdersModule
{
    /// <summary>Orders are event streams keyed by the order number; <see cref="Order"/> is their inline projection.</summary>
    public static WebApplicationBuilder AddOrders(this WebApplicationBuilder builder)
    {
        builder.Services.ConfigureMarten(options =>
        {
            options.Events.StreamIdentity = StreamIdentity.AsString;
            options.Events.AddEventType<OrderPlaced>();
            options.Events.AddEventType<OrderPaid>();
            options.Events.AddEventType<OrderCancelled>();
            // Kept in the same transaction as each event: reads and paging query a plain document.
            options.Projections.Snapshot<Order>(SnapshotLifecycle.Inline);
            options.Schema.For<Order>().Index(order => order.UserId);
        });
        // Idempotency-Key on POST /api/orders: Wolverine's stored responses, in its PostgreSQL message store.
        builder.Services.ConfigureWolverine(opts => opts.Durability.EnableDeduplicatedResponses = true);
        builder.Services.AddSingleton<OrderEventReplay>();
        return builder;
    }
}
