using System.Collections;
using System.Reflection;
using Confluent.Kafka;
using Wolverine.Kafka.Internals;
using Wolverine.Runtime;
using Wolverine.Transports;

namespace OrderEvents.Infrastructure.Kafka;

/// <summary>
/// Lets a partition's committed offset catch up when the partition is assigned again after a rebalance.
/// <para>
/// Wolverine (6.62, unchanged up to 6.64.2) stores each completed record's offset through a per-partition watermark
/// (<c>KafkaOffsetCommitter.OffsetWatermark</c>) that only moves forward and outlives a rebalance. Offsets stored but
/// not yet committed (auto-commit flushes every 5 s) are dropped when the partition is revoked and the member's commit
/// is refused: librdkafka's mock broker refuses every commit during a rebalance, a real broker refuses a member that
/// lost its partitions, and a record whose inbox write finishes after the revocation cannot be stored at all. When the
/// member gets the partition back it resumes at the older committed offset; the records it reads again are in the
/// durable inbox already and complete at once, but the watermark has passed them and stores nothing. The committed
/// offset then stays behind until a newer record arrives on that partition: on a quiet partition for good, so the
/// group shows lag and the next restart or rebalance reads those records once more (the inbox absorbs them).
/// </para>
/// <para>
/// So when partitions are assigned, their watermarks forget how far they had got: the baseline is taken again from the
/// next record read there (the committed offset the consumer resumes at), and the offsets still in flight are kept,
/// so nothing is committed past a record that is not in the inbox. Wolverine has no public way to do this: the
/// listener's internals are reached by reflection, checked when the host starts (a Wolverine upgrade that changes
/// them stops the start-up with a message, never silently). Remove this once Wolverine resets its watermark on
/// assignment itself (RebalanceOffsetTests then still passes without it).
/// </para>
/// </summary>
public sealed class ReassignedPartitionOffsets : IHostedService
{
    private const BindingFlags Private = BindingFlags.NonPublic | BindingFlags.Instance;

    private static readonly FieldInfo? ListenerConsumer = typeof(KafkaTopicGroupListener).GetField("_consumer", Private);
    private static readonly FieldInfo? ListenerCommitter = typeof(KafkaTopicGroupListener).GetField("_committer", Private);
    private static readonly FieldInfo? CommitterLock = ListenerCommitter?.FieldType.GetField("_lock", Private);
    private static readonly FieldInfo? CommitterWatermarks = ListenerCommitter?.FieldType.GetField("_watermarks", Private);
    private static readonly FieldInfo? WatermarkSeen = CommitterWatermarks?.FieldType.GetGenericArguments().ElementAtOrDefault(1)?.GetField("_seen", Private);

    private IWolverineRuntime? _runtime;
    private ILogger _logger = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    /// <summary>Installs the assignment handler on every Kafka consumer Wolverine builds.</summary>
    public void ConfigureConsumer(ConsumerBuilder<string, byte[]> consumer) =>
        consumer.SetPartitionsAssignedHandler((assigned, partitions) => ForgetProgress(assigned, partitions));

    /// <summary>The runtime whose listeners own the consumers; given when the host resolves its hosted services.</summary>
    public ReassignedPartitionOffsets AttachedTo(IWolverineRuntime runtime)
    {
        _runtime = runtime;
        _logger = runtime.LoggerFactory.CreateLogger<ReassignedPartitionOffsets>();
        return this;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (ListenerConsumer?.FieldType != typeof(IConsumer<string, byte[]>) || CommitterLock is null
            || !typeof(IDictionary).IsAssignableFrom(CommitterWatermarks?.FieldType) || WatermarkSeen?.FieldType != typeof(bool))
            throw new InvalidOperationException(
                "Wolverine's Kafka offset tracking (KafkaTopicGroupListener._committer, KafkaOffsetCommitter._watermarks, " +
                "OffsetWatermark._seen) is not what ReassignedPartitionOffsets was written for. If this Wolverine version resets " +
                "a partition's watermark on assignment itself, delete ReassignedPartitionOffsets; otherwise adapt it.");
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Runs on the listener's consume loop, inside Consume(), before any record of the new assignment is read, so no
    /// record is tracked meanwhile; completions of earlier records may race it, hence the committer's own lock.
    /// </summary>
    private void ForgetProgress(IConsumer<string, byte[]> consumer, List<TopicPartition> partitions)
    {
        // At the first assignment the listener may not be registered yet; it has no watermark then either.
        if (CommitterOf(consumer) is not { } committer) return;
        var watermarks = (IDictionary)CommitterWatermarks!.GetValue(committer)!;
        lock (CommitterLock!.GetValue(committer)!)
        {
            foreach (var partition in partitions)
                if (watermarks[partition] is { } watermark)
                    WatermarkSeen!.SetValue(watermark, false);
        }

        _logger.LogDebug("Partitions {Partitions} assigned: their offset tracking starts again from the committed offsets", partitions);
    }

    private object? CommitterOf(IConsumer<string, byte[]> consumer) =>
        _runtime?.Endpoints.ActiveListeners()
            .Select(agent => (agent as ListeningAgent)?.Listener)
            .OfType<KafkaTopicGroupListener>()
            .Where(listener => ReferenceEquals(ListenerConsumer!.GetValue(listener), consumer))
            .Select(listener => ListenerCommitter!.GetValue(listener))
            .FirstOrDefault();
}
