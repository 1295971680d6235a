using JasperFx.Core;
using JasperFx;
using OrderEvents.Features.Notifications;
using Wolverine.Configuration;
using Wolverine.EntityFrameworkCore;
using Wolverine.ErrorHandling;
using Wolverine.Transports;
using Wolverine.Kafka;
using Wolverine.Kafka.Internals;

namespace OrderEvents.Infrastructure.Kafka;

public static class MessagingSetup
{
    /// <summary>Wolverine: transactional handlers, a durable outbox; order events on Kafka, else on a durable local queue.</summary>
    public static WebApplicationBuilder AddMessaging(this WebApplicationBuilder builder)
    {
        var kafka = builder.AddSettings<KafkaSettings>(section: null);
        var databaseRetry = builder.AddSettings<DatabaseRetrySettings>(DatabaseRetrySettings.Section);
        builder.Services.AddSingleton<IValidateOptions<DatabaseRetrySettings>, DatabaseRetrySettings.UnreadableDelays>();
        var reassignedPartitions = new ReassignedPartitionOffsets();
        // Registered before Wolverine, so its start-up check runs before the listeners start.
        if (kafka.Enabled)
            builder.Services.AddHostedService(services => reassignedPartitions.AttachedTo(services.GetRequiredService<IWolverineRuntime>()));
        builder.Services.AddHostedService<NodeLiveness>();

        // ManualOnly: discovery loads every assembly the app ships (docs/benchmarks.md#cuts); runtime compilation is added by hand.
        builder.Host.UseWolverine(opts =>
        {
            opts.ServiceName = "OrderEvents";
            // Handlers, endpoints and their pre-generated code live here, whichever assembly hosts the service.
            opts.ApplicationAssembly = typeof(MessagingSetup).Assembly;
            opts.UseRuntimeCompilation();
#if !DEBUG
            // Release builds run the code `codegen write` put in Internal/Generated: no Roslyn at start-up.
            opts.CodeGeneration.TypeLoadMode = JasperFx.CodeGeneration.TypeLoadMode.Static;
#endif
            // Lets the staleness test write the generated code somewhere else and compare.
            if (builder.Configuration["Codegen:OutputPath"] is { Length: > 0 } generatedCodePath)
                opts.CodeGeneration.GeneratedCodeOutputPath = generatedCodePath;
            opts.Policies.AutoApplyTransactions();
            // Marten owns the order side's transactions, EF Core the notification side's (each chain names its store).
            opts.UseEntityFrameworkCoreTransactions();
            opts.Policies.UseDurableLocalQueues();
            opts.Policies.UseDurableOutboxOnAllSendingEndpoints();
            ConfigureRecovery(opts.Durability);
            // A PostgreSQL error is an outage until shown otherwise, never a dead letter: retry, then pause the Kafka listeners
            // and run the batch again for as long as it lasts. NotifyUsersHandler sets aside a record PostgreSQL refuses.
            opts.OnException(DatabaseOutage.IsDatabaseError)
                .RetryWithCooldown(databaseRetry.Delays)
                .Then.CustomActionIndefinitely(PauseThenRun(databaseRetry), $"pause the Kafka listeners for {databaseRetry.Pause}, then run the batch again");

            if (kafka.Enabled) UseKafka(opts, kafka, reassignedPartitions);
            else opts.PublishMessage<OrderEvent>().ToLocalQueue(KafkaSettings.OrderEventsTopic).UseDurableInbox();
        }, ExtensionDiscovery.ManualOnly);
        return builder;
    }

    /// <summary>Pauses the Kafka listeners, waits, then runs the same batch again; the Error names the cause each time.</summary>
    private static Func<IWolverineRuntime, IEnvelopeLifecycle, Exception, ValueTask> PauseThenRun(DatabaseRetrySettings databaseRetry) =>
        async (runtime, lifecycle, exception) =>
        {
            runtime.Logger.LogError(exception,
                "A database error outlasted the retries; the Kafka listeners pause for {Pause}, then the same batch runs again: {Cause}",
                databaseRetry.Pause, exception is NotificationsRefusedException ? exception.Message : DatabaseOutage.Describe(exception));
            foreach (var listener in runtime.Endpoints.ActiveListeners().Where(agent => agent.Uri.Scheme == "kafka"))
                _ = listener.PauseAsync(databaseRetry.Pause);
            await Task.Delay(databaseRetry.Pause, runtime.Cancellation);
            // In place, not requeued: a requeued batch would run after the batches queued behind it.
            await lifecycle.RetryExecutionNowAsync();
        };

    /// <summary>
    /// A crashed node's outbox is taken over within seconds, not Wolverine's default minute: a node silent for 3 s is
    /// ejected and its envelopes released; one ejected while alive loses nothing (docs/architecture.md). A node whose
    /// process died goes sooner (NodeLiveness).
    /// </summary>
    private static void ConfigureRecovery(DurabilitySettings durability)
    {
        durability.StaleNodeTimeout = 2.Seconds();
        // The pass that sends released (and scheduled) envelopes: every 5 s by default.
        durability.ScheduledJobPollingTime = 1.Seconds();
        // Plus Wolverine's own random 0-1 s: a restarted node sends its predecessor's released outbox that soon.
        durability.ScheduledJobFirstExecution = TimeSpan.Zero;
        durability.HealthCheckPollingTime = 1.Seconds();
        durability.NodeReassignmentPollingTime = 1.Seconds();
        durability.CheckAssignmentPeriod = 1.Seconds();
        durability.FirstHealthCheckExecution = TimeSpan.Zero;
        durability.FirstNodeReassignmentExecution = 200.Milliseconds();
    }

    private static void UseKafka(WolverineOptions opts, KafkaSettings kafka, ReassignedPartitionOffsets reassignedPartitions)
    {
        // Brokers are unset only for commands that need none (CommandLineSetup refuses the others).
        opts.UseKafka(kafka.Brokers ?? "")
            .ConfigureClient(client => client.ClientId = kafka.ClientId)
            // After a rebalance, each partition assigned again commits up to its last handled record.
            .ConfigureConsumerBuilders(reassignedPartitions.ConfigureConsumer)
            .ConfigureProducers(producer =>
            {
                producer.Acks = Confluent.Kafka.Acks.All;
                producer.EnableIdempotence = true;
                // Shared with the dead-letter producer: a ~1 MB poison record plus its exception headers must still fit.
                producer.MessageMaxBytes = KafkaSettings.MaxRecordBytes;
                producer.LingerMs = kafka.LingerMs;
            })
            .ConfigureConsumers(consumer =>
            {
                // A new group reads the topic from its start: nothing published before its first run is missed.
                consumer.AutoOffsetReset = Confluent.Kafka.AutoOffsetReset.Earliest;
                consumer.GroupId = kafka.GroupId;
                consumer.FetchWaitMaxMs = kafka.FetchWaitMaxMs;
                consumer.SessionTimeoutMs = kafka.SessionTimeoutMs;
                consumer.HeartbeatIntervalMs = kafka.HeartbeatIntervalMs;
            })
            .DeadLetterQueueTopicName(KafkaSettings.DeadLetterTopic);
        // Topics are created by whoever runs the broker, never by the app (the development host's broker has no CreateTopics).
        var kafkaTransport = opts.Transports.GetOrCreate<KafkaTransport>();
        var deadLetterTopic = kafkaTransport.Topics[KafkaSettings.DeadLetterTopic];
        deadLetterTopic.IsExternallyOwned = true;
        // NotifyUsersHandler dead-letters a record PostgreSQL refuses through the outbox, in the transaction that stores
        // the rest of its batch (Wolverine's own Kafka dead-lettering produces directly, outside any transaction).
        deadLetterTopic.Mode = EndpointMode.Durable;

        opts.PublishMessage<OrderEvent>()
            .ToKafkaTopic(KafkaSettings.OrderEventsTopic)
            // Record key = order id: all events of one order land on one partition, in order.
            .CustomizeOutgoingMessagesOfType<OrderEvent>((envelope, orderEvent) => envelope.PartitionKey = orderEvent.OrderId.ToString())
            .UseDurableOutbox()
            .UseInterop((_, mapper) => mapper.PropagateW3CTraceContext())
            // One batch in flight at a time: 10 ms lets a burst's batches fill for up to 10 ms of latency (docs/benchmarks.md:
            // 20 ms cost ~10 ms of lag p99 at 300/s and bought nothing; at 5 ms the batches queued behind the send and the
            // lag grew through half of the bursts measured).
            .MessageBatchTimeout(10.Milliseconds())
            .MessageBatchSize(500)
            .ExternallyOwned();

        // A topic-group listener is an endpoint of its own, so the publishing endpoint of the same topic stays durable.
        opts.ListenToKafkaTopics(KafkaSettings.OrderEventsTopic)
            // Records from non-Wolverine producers carry no message-type header: they are order events.
            .DefaultIncomingMessage<OrderEvent>()
            // Wolverine's default (1,000) stalled bursts (docs/benchmarks.md); buffered events are in the inbox already, so a
            // larger buffer only costs memory (about 1 KB an event).
            .UseDurableInbox(new BufferingLimits(10_000, 5_000))
            .Sequential()
            .EnableNativeDeadLetterQueue()
            .ExternallyOwned();
        foreach (var listener in kafkaTransport.Endpoints().OfType<KafkaTopicGroup>())
            listener.EnvelopeMapper = new RecordIdentityMapper(listener, typeof(OrderEvent));
    }
}
