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
            // GET /api/orders walks one index in its own order ("my orders, newest first") instead of sorting all of a
            // user's orders: the filter and both sort keys are columns of their own (Marten fills them on every upsert,
            // and fills existing rows when it adds a column), Order.Id as order_id beside the stream key's id column.
            options.Policies.ForAllDocuments(mapping =>
            {
                if (mapping.DocumentType != typeof(Order)) return;
                mapping.DuplicateField(nameof(Order.UserId));
                mapping.DuplicateField(nameof(Order.CreatedAt));
                mapping.DuplicateField([typeof(Order).GetProperty(nameof(Order.Id))!], columnName: "order_id");
                mapping.AddIndex("user_id", "created_at", "order_id").IncludeColumns = ["id"];
            });
        });
        // Idempotency-Key on POST /api/orders: Wolverine's stored responses, in its PostgreSQL message store.
        builder.Services.ConfigureWolverine(opts => opts.Durability.EnableDeduplicatedResponses = true);
        builder.Services.AddSingleton<OrderEventReplay>();
        return builder;
    }
}
