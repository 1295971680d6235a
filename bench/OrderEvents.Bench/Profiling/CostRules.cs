namespace OrderEvents.Bench.Profiling;

/// <summary>
/// The stage rules of each target (see <see cref="StageClassifier"/>: the innermost frame that a rule recognises decides,
/// rules tried in this order at each frame). Fragments are matched against the perf-map names of managed methods
/// ("[Assembly] Namespace.Type::Method"), so a namespace or a type name is enough.
/// </summary>
public static class CostRules
{
    // Service stages, in the order of an order's life.
    public static readonly Stage HttpServer = new("HTTP: Kestrel, routing, middleware, response writing", "the API");
    public static readonly Stage HttpAuth = new("HTTP: JWT authentication and authorization", "only signed-in users order");
    public static readonly Stage HttpAdmission = new("HTTP: admission control", "no collapse past capacity (503 instead of time-outs)");
    public static readonly Stage HttpBodyGuard = new("HTTP: JSON body guard (trial parse)", "clear 400s for bad bodies");
    public static readonly Stage HttpBinding = new("HTTP: binding the body (Wolverine ReadJsonAsync)", "the API");
    public static readonly Stage HttpIdempotency = new("HTTP: idempotency key handling (Wolverine dedup)", "safe retries with Idempotency-Key");
    public static readonly Stage HttpValidation = new("HTTP: validation (FluentValidation)", "clear 400s for bad orders");
    public static readonly Stage ProductLookup = new("order: product lookup (Marten LoadMany)", "prices from the catalog");
    public static readonly Stage OrderHandler = new("order: endpoint code (Wolverine generated handler, domain)", "the API");
    public static readonly Stage MartenAppend = new("order: Marten append + inline projection + commit", "the order and its event, durably");
    public static readonly Stage OutboxWrite = new("outbox: envelope write (enqueue, serialize, insert)", "no lost event (outbox)");
    public static readonly Stage OutboxRelay = new("outbox: relay, produce and delete (sending agent, Kafka sender)", "no lost event (outbox)");
    public static readonly Stage Listener = new("listener: Kafka consume, deserialize, batching", "notifications");
    public static readonly Stage Inbox = new("inbox: insert, mark handled (durable receiver)", "each event handled once (inbox)");
    public static readonly Stage NotificationBatch = new("notifications: batch handler (EF Core transaction + statement)", "notifications");
    public static readonly Stage Background = new("background: durability agent, node agents, heartbeats, timers", "crash recovery, two-node takeover");
    public static readonly Stage Telemetry = new("telemetry and logging", "observability");

    public static IReadOnlyList<StageRule> Service { get; } =
    [
        StageClassifier.Rule(HttpBodyGuard, "OrderEvents.Infrastructure.Http.JsonBodyGuard"),
        StageClassifier.Rule(HttpValidation, "FluentValidation", "OrderEvents.Infrastructure.Http.Validation", "::Validate("),
        StageClassifier.Rule(HttpAuth, "Microsoft.AspNetCore.Authentication", "Microsoft.AspNetCore.Authorization", "Microsoft.IdentityModel", "System.IdentityModel"),
        StageClassifier.Rule(HttpAdmission, "OrderEvents.Infrastructure.Http.AdmissionControl", "System.Threading.RateLimiting"),
        StageClassifier.Rule(HttpIdempotency, "Deduplicat"),
        StageClassifier.Rule(HttpBinding, "Wolverine.Http.HttpHandler::ReadJsonAsync", "HttpHandler::ReadJson"),
        StageClassifier.Rule(ProductLookup, "CreateOrderEndpoint::LoadAsync"),
        StageClassifier.Rule(OutboxWrite, "Wolverine.Runtime.MessageContext::EnqueueCascading", "MessageBus::PublishAsync", "Wolverine.Marten.Persistence.Operations",
            "Wolverine.Runtime.Serialization", "Wolverine.Marten.Publishing", "MessageContext::FlushOutgoing"),
        StageClassifier.Rule(NotificationBatch, "OrderEvents.Features.Notifications", "OrderEventArrayHandler", "Microsoft.EntityFrameworkCore", "Wolverine.EntityFrameworkCore"),
        StageClassifier.Rule(Inbox, "Wolverine.Runtime.WorkerQueues.DurableReceiver", "Incoming", "Wolverine.Persistence.Durability.DurableReceiver"),
        StageClassifier.Rule(Listener, "Wolverine.Kafka.Internals.KafkaListener", "Wolverine.Kafka.KafkaListener", "Confluent.Kafka.Consumer", "Wolverine.Runtime.Batching", "BatchingProcessor",
            "Wolverine.Kafka.Internals.KafkaEnvelopeMapper"),
        StageClassifier.Rule(OutboxRelay, "Wolverine.Transports.Sending", "Wolverine.Kafka.Internals.KafkaSender", "Wolverine.Kafka.Internals.KafkaTopic", "Confluent.Kafka.Producer",
            "Outgoing", "DurableSendingAgent"),
        StageClassifier.Rule(MartenAppend, "Marten.", "Weasel.", "JasperFx.Events"),
        StageClassifier.Rule(OrderHandler, "Internal.Generated.WolverineHandlers.POST_api_orders", "OrderEvents.Features.Orders", "Wolverine.Http"),
        StageClassifier.Rule(Background, "Wolverine.Runtime.Agents", "DurabilityAgent", "NodeAgentController", "Wolverine.Persistence.Durability", "Wolverine.RDBMS",
            "System.Threading.TimerQueue", "Microsoft.Extensions.Diagnostics.HealthChecks", "Wolverine.Runtime.Scheduled"),
        StageClassifier.Rule(Telemetry, "OpenTelemetry", "Microsoft.Extensions.Logging", "System.Diagnostics.Metrics", "System.Diagnostics.Activity"),
        StageClassifier.Rule(HttpServer, "Microsoft.AspNetCore", "System.Net.Http.Headers"),
    ];

    // Baseline stages.
    public static readonly Stage BareHttpServer = new("HTTP: Kestrel, routing, minimal API binding + response", "the API");
    public static readonly Stage BareOrder = new("order: price lookup + one batch (order, items, outbox row) + commit (Npgsql)", "the order and its event, durably");
    public static readonly Stage BareRelay = new("outbox: relay (delete, produce, commit)", "no lost event (outbox)");
    public static readonly Stage BareConsumer = new("consumer: fetch + one insert per batch + offset commit", "notifications, idempotent by event id");

    public static IReadOnlyList<StageRule> Baseline { get; } =
    [
        StageClassifier.Rule(HttpValidation, "FluentValidation"),
        StageClassifier.Rule(HttpAuth, "Microsoft.AspNetCore.Authentication", "Microsoft.AspNetCore.Authorization", "Microsoft.IdentityModel", "System.IdentityModel"),
        StageClassifier.Rule(BareRelay, "OrderEvents.Bench.Baseline.OutboxRelay", "Confluent.Kafka.Producer"),
        StageClassifier.Rule(BareConsumer, "OrderEvents.Bench.Baseline.NotificationConsumer", "Confluent.Kafka.Consumer"),
        StageClassifier.Rule(BareOrder, "OrderEvents.Bench.Baseline.BareServer", "OrderEvents.Bench.Baseline.OrderIds"),
        StageClassifier.Rule(Telemetry, "Microsoft.Extensions.Logging", "System.Diagnostics.Metrics", "System.Diagnostics.Activity"),
        StageClassifier.Rule(BareHttpServer, "Microsoft.AspNetCore", "System.Net.Http.Headers"),
        StageClassifier.Rule(Background, "System.Threading.TimerQueue"),
    ];

    public static IReadOnlyList<StageRule> For(string target) => target == "baseline" ? Baseline : Service;
}
