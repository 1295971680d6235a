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
/// so nothing is committed past a record that is not in the inbox. Wolverine has no public way to do this (no commit
/// mode avoids the watermark but Kafka's own auto-store, which commits records before they are in the inbox), so the
/// listener's internals are reached by reflection. Every assumption that takes is checked when the host starts
/// (<see cref="ShapeProblems"/>, then the wiring once the listeners run): a Wolverine upgrade that
/// changes any of them stops the start-up with a message, never silently. Remove this once Wolverine resets its
/// watermark on assignment itself (RebalanceOffsetTests then still passes without it).
/// </para>
/// </summary>
public sealed class ReassignedPartitionOffsets : IHostedLifecycleService
{
    private const BindingFlags Instance = BindingFlags.NonPublic | BindingFlags.Public | BindingFlags.Instance;

    /// <summary>What <see cref="ForgetProgress"/> reaches, found on the listener and listening agent types.</summary>
    private sealed record Shape(
        Type AgentType, PropertyInfo AgentListener, Type ListenerType, FieldInfo Consumer, FieldInfo Committer,
        FieldInfo Lock, FieldInfo Watermarks, FieldInfo Seen);

    private readonly Shape? _shape;
    private readonly IReadOnlyList<string> _shapeProblems;
    private IWolverineRuntime? _runtime;
    private ILogger _logger = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    /// <summary>For Wolverine's own types: <see cref="KafkaTopicGroupListener"/> found through <see cref="ListeningAgent"/>.</summary>
    public ReassignedPartitionOffsets() : this(typeof(KafkaTopicGroupListener), typeof(ListeningAgent)) { }

    /// <summary>For other types (tests feed it changed shapes).</summary>
    internal ReassignedPartitionOffsets(Type listenerType, Type agentType) =>
        (_shape, _shapeProblems) = Inspect(listenerType, agentType);

    /// <summary>
    /// Every way <paramref name="listenerType"/>, reached through <paramref name="agentType"/>'s <c>Listener</c>, differs
    /// from what the workaround was written for (Wolverine 6.62's KafkaTopicGroupListener and ListeningAgent); empty
    /// when it fits. Each problem names the member, what was expected and why, and what was found.
    /// </summary>
    public static IReadOnlyList<string> ShapeProblems(Type listenerType, Type agentType) => Inspect(listenerType, agentType).Problems;

    /// <summary>
    /// Once the listeners run: every Kafka listening agent must be a <see cref="ListeningAgent"/> holding a
    /// <see cref="KafkaTopicGroupListener"/> (or none, while stopped), or no committer would ever be found. Wolverine
    /// builds others for some settings: a ParallelListener (ListenerCount &gt; 1), a CompoundListener (Kafka tenants).
    /// </summary>
    internal static IReadOnlyList<string> WiringProblems(Type listenerType, Type agentType, IEnumerable<IListeningAgent> kafkaAgents) =>
        Inspect(listenerType, agentType) is { Shape: { } shape } ? WiringProblems(shape, kafkaAgents) : ShapeProblems(listenerType, agentType);

    private static IReadOnlyList<string> WiringProblems(Shape shape, IEnumerable<IListeningAgent> kafkaAgents)
    {
        var problems = new List<string>();
        foreach (var agent in kafkaAgents)
        {
            if (!shape.AgentType.IsInstanceOfType(agent))
                problems.Add($"The listening agent of {agent.Uri} is a {Name(agent.GetType())}, not a {Name(shape.AgentType)}: its listener cannot be reached.");
            else if (shape.AgentListener.GetValue(agent) is { } listener && !shape.ListenerType.IsInstanceOfType(listener))
                problems.Add($"The listener of {agent.Uri} is a {Name(listener.GetType())}, not a {Name(shape.ListenerType)}: its offset committer cannot be found.");
        }

        return problems;
    }

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

    /// <summary>Before Wolverine starts (registered ahead of it): the types are what the workaround was written for.</summary>
    public Task StartAsync(CancellationToken cancellationToken) =>
        _shapeProblems.Count == 0 ? Task.CompletedTask : throw Refusal(_shapeProblems);

    /// <summary>After every hosted service started, so Wolverine's listeners run: they are reached the way the workaround expects.</summary>
    public Task StartedAsync(CancellationToken cancellationToken)
    {
        if (_runtime is null || _shape is null) return Task.CompletedTask;
        var problems = WiringProblems(_shape, _runtime.Endpoints.ActiveListeners().Where(agent => agent.Uri.Scheme == "kafka"));
        return problems.Count == 0 ? Task.CompletedTask : throw Refusal(problems);
    }

    private static InvalidOperationException Refusal(IEnumerable<string> problems) => new(
        "Wolverine's Kafka offset tracking is not what ReassignedPartitionOffsets was written for (Wolverine 6.62):" +
        string.Concat(problems.Select(problem => "\n- " + problem)) +
        "\nIf this Wolverine version resets a partition's offset watermark on assignment itself, delete ReassignedPartitionOffsets " +
        "(RebalanceOffsetTests shows whether it does); otherwise adapt it.");

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Runs on the listener's consume loop, inside Consume(), before any record of the new assignment is read, so no
    /// record is tracked meanwhile; completions of earlier records may race it, hence the committer's own lock.
    /// </summary>
    private void ForgetProgress(IConsumer<string, byte[]> consumer, List<TopicPartition> partitions)
    {
        // At the first assignment the listener may not be registered yet; it has no watermark then either.
        if (_shape is not { } shape || CommitterOf(shape, consumer) is not { } committer) return;
        var watermarks = (IDictionary)shape.Watermarks.GetValue(committer)!;
        lock (shape.Lock.GetValue(committer)!)
        {
            foreach (var partition in partitions)
                if (watermarks.Contains(partition) && watermarks[partition] is { } watermark)
                    shape.Seen.SetValue(watermark, false);
        }

        _logger.LogDebug("Partitions {Partitions} assigned: their offset tracking starts again from the committed offsets", partitions);
    }

    private object? CommitterOf(Shape shape, IConsumer<string, byte[]> consumer) =>
        _runtime?.Endpoints.ActiveListeners()
            .Where(shape.AgentType.IsInstanceOfType)
            .Select(agent => shape.AgentListener.GetValue(agent))
            .Where(shape.ListenerType.IsInstanceOfType)
            .Where(listener => ReferenceEquals(shape.Consumer.GetValue(listener), consumer))
            .Select(listener => shape.Committer.GetValue(listener))
            .FirstOrDefault();

    /// <summary>The shape, when every assumption holds; else every problem found.</summary>
    private static (Shape? Shape, IReadOnlyList<string> Problems) Inspect(Type listenerType, Type agentType)
    {
        var problems = new List<string>();

        // Found from the runtime: ActiveListeners() hands out IListeningAgents; the listener is the agent's Listener.
        var agentListener = agentType.GetProperty("Listener", BindingFlags.Public | BindingFlags.Instance);
        if (!typeof(IListeningAgent).IsAssignableFrom(agentType))
            problems.Add($"{Name(agentType)} is not an {nameof(IListeningAgent)}, which the runtime's ActiveListeners() hands out.");
        if (agentListener is not { CanRead: true } || !agentListener.PropertyType.IsAssignableFrom(listenerType))
            problems.Add($"{Name(agentType)}.Listener: expected a readable public property that can hold a {Name(listenerType)}, found {Describe(agentListener)}.");

        var consumer = listenerType.GetField("_consumer", Instance);
        if (consumer?.FieldType != typeof(IConsumer<string, byte[]>))
            problems.Add($"{Name(listenerType)}._consumer: expected a field of type {Name(typeof(IConsumer<string, byte[]>))} " +
                         $"(the consumer the assignment handler is given, to find its listener), found {Describe(consumer)}.");

        var committer = listenerType.GetField("_committer", Instance);
        if (committer is null || committer.FieldType.IsValueType)
        {
            problems.Add($"{Name(listenerType)}._committer: expected a field holding the offset committer (a class), found {Describe(committer)}.");
            return (null, problems);
        }

        var committerType = committer.FieldType;
        var @lock = committerType.GetField("_lock", Instance);
        // `lock` on an object is Monitor.Enter; a System.Threading.Lock field is entered with Lock.EnterScope by its
        // owner, which Monitor on the same instance does not exclude.
        if (@lock?.FieldType != typeof(object))
            problems.Add($"{Name(committerType)}._lock: expected a field of type Object (a Monitor lock, as the committer's own " +
                         $"`lock` statements take it and ForgetProgress takes it too), found {Describe(@lock)}.");

        var watermarks = committerType.GetField("_watermarks", Instance);
        var dictionary = watermarks?.FieldType.GetInterfaces().Append(watermarks.FieldType)
            .FirstOrDefault(type => type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IDictionary<,>));
        var keyType = dictionary?.GetGenericArguments()[0];
        var watermarkType = dictionary?.GetGenericArguments()[1];
        if (watermarks is null || dictionary is null || !typeof(IDictionary).IsAssignableFrom(watermarks.FieldType) || keyType != typeof(TopicPartition))
            problems.Add($"{Name(committerType)}._watermarks: expected a dictionary (IDictionary and IDictionary<TopicPartition, _>) keyed " +
                         $"by the {nameof(TopicPartition)}s the assignment handler is given, found {Describe(watermarks)}.");
        if (watermarkType is { IsValueType: true })
            problems.Add($"{Name(committerType)}._watermarks: expected watermarks of a class type (a struct would be reset in a copy), found {Name(watermarkType)}.");
        if (watermarkType is null || watermarkType.IsValueType) return (null, problems);

        var seen = watermarkType.GetField("_seen", Instance);
        if (seen?.FieldType != typeof(bool))
            problems.Add($"{Name(watermarkType)}._seen: expected a field of type Boolean (whether the watermark has its baseline), found {Describe(seen)}.");
        else if (WatermarkRestartProblem(watermarkType, seen) is { } restart)
            problems.Add($"{Name(watermarkType)}: {restart}");

        return problems.Count == 0
            ? (new Shape(agentType, agentListener!, listenerType, consumer!, committer, @lock!, watermarks!, seen!), problems)
            : (null, problems);
    }

    /// <summary>
    /// What resetting <c>_seen</c> is for, tried on a watermark of its own: one that has taken offset 11 as committable,
    /// reset, then given the re-read record at offset 5 (where the consumer resumes after the reassignment), must offer 6.
    /// </summary>
    private static string? WatermarkRestartProblem(Type watermarkType, FieldInfo seen)
    {
        var track = watermarkType.GetMethod("Track", Instance, [typeof(long)]);
        var complete = watermarkType.GetMethod("Complete", Instance, [typeof(long)]);
        var take = watermarkType.GetMethod("TryTakeCommittable", Instance, [typeof(long).MakeByRefType()]);
        var create = watermarkType.GetConstructor(Instance, Type.EmptyTypes);
        if (track is null || complete is null || take?.ReturnType != typeof(bool) || create is null)
            return "expected a parameterless constructor, Track(long), Complete(long) and bool TryTakeCommittable(out long), " +
                   "to try what resetting _seen does; one is missing.";

        try
        {
            var watermark = create.Invoke(null);
            (long Offset, bool Taken) Handle(long offset)
            {
                track.Invoke(watermark, [offset]);
                complete.Invoke(watermark, [offset]);
                object?[] arguments = [0L];
                var taken = (bool)take.Invoke(watermark, arguments)!;
                return ((long)arguments[0]!, taken);
            }

            var before = Handle(10);
            seen.SetValue(watermark, false);
            var after = Handle(5);
            return before == (11, true) && after == (6, true)
                ? null
                : $"after offset 10 it offered {Offer(before)} (expected 11); reset through _seen, then given offset 5, it offered " +
                  $"{Offer(after)} (expected 6): resetting _seen does not restart its tracking at the next record.";
        }
        catch (TargetInvocationException e)
        {
            return $"trying what resetting _seen does failed: {e.InnerException?.Message}";
        }

        static string Offer((long Offset, bool Taken) offer) => offer.Taken ? offer.Offset.ToString() : "nothing";
    }

    private static string Describe(MemberInfo? member) => member switch
    {
        null => "none",
        FieldInfo field => $"a field of type {Name(field.FieldType)}",
        PropertyInfo property => $"a property of type {Name(property.PropertyType)}",
        _ => member.ToString() ?? "?",
    };

    private static string Name(Type type) => type.IsGenericType
        ? $"{type.Name.Split('`')[0]}<{string.Join(", ", type.GetGenericArguments().Select(Name))}>"
        : type.Name;
}
