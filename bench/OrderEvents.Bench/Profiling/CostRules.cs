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
    public static readonly Stage HttpBinding = new("HTTP: binding the body (Wolverine ReadJsonAsync; bare: minimal API ReadFromJsonAsync)", "the API");
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

    public static readonly Stage NotificationSignals = new("notifications: LISTEN/NOTIFY fan-out to live streams", "the live notification stream (SSE)");
    public static readonly Stage MartenOther = new("Marten, caller not on the stack");
    public static readonly Stage WolverineOther = new("Wolverine runtime, other");

    // Static fields initialise in text order: the stages above, then the rule lists.
    public static IReadOnlyList<StageRule> Service { get; } =
    [
        // The order's request, in the order of its steps (the innermost of these frames decides).
        StageClassifier.Rule(HttpBodyGuard, "OrderEvents.Infrastructure.Http.JsonBodyGuard"),
        StageClassifier.Rule(HttpValidation, "FluentValidation.", "OrderEvents.Infrastructure.Http.Validation", "CreateOrderEndpoint::Validate"),
        StageClassifier.Rule(HttpAuth, "Microsoft.AspNetCore.Authentication", "Microsoft.AspNetCore.Authorization", "Microsoft.IdentityModel.", "System.IdentityModel.",
            "OrderEvents.Infrastructure.Auth."),
        StageClassifier.Rule(HttpAdmission, "OrderEvents.Infrastructure.Http.AdmissionControl", "System.Threading.RateLimiting.", "Microsoft.AspNetCore.RateLimiting."),
        StageClassifier.Rule(HttpIdempotency, "Deduplicat", "DeduplicatedResponse", "::ScopeDeduplicationId", "::PrepareClaim", "::QueueClaim", "::FindClaimAsync",
            "+<FindClaimAsync>", "HttpRequestRewindExtensions::EnableBuffering"),
        StageClassifier.Rule(HttpBinding, "Wolverine.Http.HttpHandler::ReadJsonAsync", "Wolverine.Http.HttpHandler+<ReadJsonAsync>"),
        StageClassifier.Rule(ProductLookup, "CreateOrderEndpoint::LoadAsync", "CreateOrderEndpoint+<LoadAsync>"),
        StageClassifier.Rule(OutboxWrite, "Wolverine.Runtime.MessageContext::EnqueueCascading", "Wolverine.Runtime.MessageContext+<EnqueueCascading",
            "Wolverine.Runtime.MessageBus::PublishAsync", "Wolverine.Runtime.Routing.", "Wolverine.Marten.Persistence.Operations.StoreOutgoingEnvelope",
            "Wolverine.Runtime.Serialization.EnvelopeSerializer", "Wolverine.Marten.FlushOutgoingMessagesOnCommit", "Wolverine.Runtime.MessageContext::FlushOutgoing",
            "Wolverine.Runtime.MessageContext+<FlushOutgoing", "Wolverine.Runtime.MessageContext+<flushOutgoing", "Wolverine.Marten.Publishing."),
        StageClassifier.Rule(MartenAppend, "Marten.Internal.Sessions.DocumentSessionBase::SaveChangesAsync", "Marten.Internal.Sessions.DocumentSessionBase+<SaveChangesAsync>",
            "::StartStream", "Marten.Events.EventStore::StartStream"),
        StageClassifier.Rule(OrderHandler, "Internal.Generated.WolverineHandlers.POST_api_orders", "OrderEvents.Features.Orders.CreateOrderEndpoint"),

        // After the commit: the outbox's sending agent and Kafka producer, and the delete of sent envelopes.
        StageClassifier.Rule(OutboxRelay, "Wolverine.Transports.Sending.", "Wolverine.Kafka.KafkaSenderProtocol", "Wolverine.Kafka.Internals.KafkaSender",
            "Confluent.Kafka.Producer", "Wolverine.Postgresql.PostgresqlMessageStore::DeleteOutgoing", "Wolverine.Postgresql.PostgresqlMessageStore+<DeleteOutgoing",
            "::DeleteOutgoing", "+<DeleteOutgoing", "Wolverine.Persistence.Durability.DurableSendingAgent"),

        // The consumer side: listener, inbox, the batch handler.
        StageClassifier.Rule(NotificationBatch, "OrderEvents.Features.Notifications.NotifyUsersHandler", "Internal.Generated.WolverineHandlers.OrderEventArrayHandler",
            "Microsoft.EntityFrameworkCore.", "Npgsql.EntityFrameworkCore.", "Wolverine.EntityFrameworkCore."),
        StageClassifier.Rule(NotificationSignals, "OrderEvents.Features.Notifications.NotificationSignals"),
        StageClassifier.Rule(Inbox, "Wolverine.Runtime.WorkerQueues.DurableReceiver", "Wolverine.Runtime.WorkerQueues.InboxCompletionCoalescer",
            "Wolverine.Runtime.WorkerQueues.InboxCustody", "::StoreIncoming", "+<StoreIncoming", "::MarkIncomingEnvelopeAsHandled", "+<MarkIncomingEnvelopeAsHandled",
            "Wolverine.Runtime.MessageSucceededContinuation"),
        StageClassifier.Rule(Listener, "Wolverine.Kafka.Internals.KafkaTopicGroupListener", "Wolverine.Kafka.Internals.KafkaListener", "Wolverine.Kafka.Internals.KafkaEnvelopeMapper",
            "Wolverine.Kafka.Internals.KafkaOffsetCommitter", "OrderEvents.Infrastructure.Kafka.", "Confluent.Kafka.Consumer", "Wolverine.Transports.BackgroundReceiveLoop",
            "Wolverine.Transports.ReceiverWithRules", "Wolverine.Runtime.Batching.", "Wolverine.Runtime.HandlerPipeline", "Wolverine.Runtime.Handlers.Executor",
            "Wolverine.Transports.Local."),

        // Background work: durability (recovery, node assignment, heartbeats), scheduled jobs, timers, health checks.
        StageClassifier.Rule(Background, "Wolverine.Runtime.Agents.", "Wolverine.RDBMS.DurabilityAgent", "Wolverine.RDBMS.Polling.", "Wolverine.Persistence.Durability.",
            "Wolverine.Postgresql.PostgresqlNodePersistence", "Wolverine.Postgresql.AdvisoryLock", "Wolverine.Runtime.Scheduled", "Microsoft.Extensions.Diagnostics.HealthChecks",
            "OrderEvents.Infrastructure.Health.", "System.Threading.TimerQueue", "JasperFx.Events.Daemon", "Marten.Events.Daemon"),
        StageClassifier.Rule(Telemetry, "OpenTelemetry.", "Microsoft.Extensions.Logging.", "System.Diagnostics.Metrics.", "System.Diagnostics.Activity",
            "OrderEvents.Infrastructure.Telemetry."),
        StageClassifier.Rule(HttpServer, "Microsoft.AspNetCore.", "Microsoft.Net.Http.Headers", "Wolverine.Http.HttpHandler", "Wolverine.Http."),

        // Fallbacks: a library frame with no step of ours above it. An async continuation resumed by a socket completion
        // has only the resumed methods on its stack: Marten's document loads in the burst are the product lookup (the
        // user check is cached), its batch execution is SaveChanges.
        StageClassifier.Fallback(ProductLookup, "Marten.Internal.Storage.LightweightDocumentStorage", "Weasel.Storage.ClosedShapeLightweightSelector",
            "Marten.Services.SystemTextJsonSerializer+<FromJsonAsync>", "Marten.Internal.Sessions.AutoClosingLifetime+<ExecuteReaderAsync>"),
        StageClassifier.Fallback(MartenAppend, "Marten.Internal.Sessions.AutoClosingLifetime+<ExecuteBatchPagesAsync>", "Marten.Internal.Sessions.OperationPage",
            "Marten.Events.Operations.", "Marten.Internal.Sessions.DocumentSessionBase+<ExecuteBatchAsync>", "JasperFx.Events.", "Marten.Events."),
        StageClassifier.Fallback(MartenOther, "Marten.", "Weasel.", "JasperFx.", "[Marten.dll]", "[Weasel."),
        StageClassifier.Fallback(WolverineOther, "Wolverine.", "[Wolverine"),
        StageClassifier.Fallback(HttpServer, "[Microsoft.AspNetCore"),
    ];

    // Baseline stages.
    public static readonly Stage BareOrder = new("order: price lookup + one batch (order, items, outbox row) + commit (Npgsql)", "the order and its event, durably");
    public static readonly Stage BareRelay = new("outbox: relay (delete, produce, commit)", "no lost event (outbox)");
    public static readonly Stage BareConsumer = new("consumer: fetch + one insert per batch + offset commit", "notifications, idempotent by event id");

    public static IReadOnlyList<StageRule> Baseline { get; } =
    [
        StageClassifier.Rule(HttpValidation, "FluentValidation."),
        StageClassifier.Rule(HttpBinding, "Microsoft.AspNetCore.Http.HttpRequestJsonExtensions", "HandleRequestBodyAndCompileRequestDelegateForJson"),
        StageClassifier.Rule(HttpAuth, "Microsoft.AspNetCore.Authentication", "Microsoft.AspNetCore.Authorization", "Microsoft.IdentityModel", "System.IdentityModel"),
        StageClassifier.Rule(BareRelay, "OrderEvents.Bench.Baseline.OutboxRelay", "Confluent.Kafka.Producer"),
        StageClassifier.Rule(BareConsumer, "OrderEvents.Bench.Baseline.NotificationConsumer", "Confluent.Kafka.Consumer"),
        StageClassifier.Rule(BareOrder, "OrderEvents.Bench.Baseline.BareServer", "OrderEvents.Bench.Baseline.OrderIds"),
        StageClassifier.Rule(Telemetry, "Microsoft.Extensions.Logging", "System.Diagnostics.Metrics", "System.Diagnostics.Activity"),
        StageClassifier.Rule(HttpServer, "Microsoft.AspNetCore", "System.Net.Http.Headers"),
        StageClassifier.Rule(Background, "System.Threading.TimerQueue"),
    ];

    public static IReadOnlyList<StageRule> For(string target) => target == "baseline" ? Baseline : Service;
}
