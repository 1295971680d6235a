using System.Collections;
using System.Reflection;
using Confluent.Kafka;
using Wolverine.Kafka.Internals;
using Wolverine.Transports;

namespace OrderEvents.Infrastructure.Kafka;

/// <summary>
/// Lets a partition's committed offset catch up when it is assigned again after a rebalance: Wolverine (6.62 to 6.64.2)
/// keeps each partition's offset watermark across a rebalance, so the re-read records store no offset and a quiet
/// partition shows lag for good (docs/architecture.md). On assignment the watermarks forget their baseline, through
/// reflection on Wolverine's internals; every assumption is checked at start-up and a changed one stops it.
/// Delete this once RebalanceOffsetTests passes without it.
/// </summary>
public sealed class ReassignedPartitionOffsets : IHostedLifecycleService
{
    private const BindingFlags Instance = BindingFlags.NonPublic | BindingFlags.Public | BindingFlags.Instance;

    private sealed record Shape(
        Type AgentType, PropertyInfo AgentListener, Type ListenerType, FieldInfo Consumer, FieldInfo Committer,
        FieldInfo Lock, FieldInfo Watermarks, FieldInfo Seen);

    private readonly Shape? _shape;
    private readonly IReadOnlyList<string> _shapeProblems;
    private IWolverineRuntime? _runtime;
    private ILogger _logger = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    public ReassignedPartitionOffsets() : this(typeof(KafkaTopicGroupListener), typeof(ListeningAgent)) { }

    /// <summary>For other types (tests feed it changed shapes).</summary>
    internal ReassignedPartitionOffsets(Type listenerType, Type agentType) =>
        (_shape, _shapeProblems) = Inspect(listenerType, agentType);

    /// <summary>Every way the types differ from Wolverine 6.62's KafkaTopicGroupListener and ListeningAgent; empty when they fit.</summary>
    public static IReadOnlyList<string> ShapeProblems(Type listenerType, Type agentType) => Inspect(listenerType, agentType).Problems;

    /// <summary>
    /// Once the listeners run, each Kafka agent must hold the expected listener: Wolverine builds others for some
    /// settings (a ParallelListener for ListenerCount &gt; 1, a CompoundListener for tenants), whose committer is out of reach.
    /// </summary>
    internal static IReadOnlyList<string> WiringProblems(Type listenerType, Type agentType, IEnumerable<IListeningAgent> kafkaAgents) =>
        Inspect(listenerType, agentType) is { Shape: { } shape } ? WiringProblems(shape, kafkaAgents) : ShapeProblems(listenerType, agentType);

    private static List<string> WiringProblems(Shape shape, IEnumerable<IListeningAgent> kafkaAgents) =>
    [
        .. kafkaAgents.Select(agent =>
            !shape.AgentType.IsInstanceOfType(agent)
                ? $"The listening agent of {agent.Uri} is a {Name(agent.GetType())}, not a {Name(shape.AgentType)}: its listener cannot be reached."
                : shape.AgentListener.GetValue(agent) is { } listener && !shape.ListenerType.IsInstanceOfType(listener)
                    ? $"The listener of {agent.Uri} is a {Name(listener.GetType())}, not a {Name(shape.ListenerType)}: " +
                      "its offset committer cannot be found."
                    : null)
            .OfType<string>(),
    ];

    public void ConfigureConsumer(ConsumerBuilder<string, byte[]> consumer) =>
        consumer.SetPartitionsAssignedHandler(ForgetProgress);

    public ReassignedPartitionOffsets AttachedTo(IWolverineRuntime runtime)
    {
        _runtime = runtime;
        _logger = runtime.LoggerFactory.CreateLogger<ReassignedPartitionOffsets>();
        return this;
    }

    /// <summary>Registered ahead of Wolverine, so this runs before its listeners start.</summary>
    public Task StartAsync(CancellationToken cancellationToken) =>
        _shapeProblems.Count == 0 ? Task.CompletedTask : throw Refusal(_shapeProblems);

    /// <summary>Once every hosted service started, so the listeners run.</summary>
    public Task StartedAsync(CancellationToken cancellationToken) =>
        _runtime is null || _shape is null ? Task.CompletedTask
        : WiringProblems(_shape, _runtime.Endpoints.ActiveListeners().Where(agent => agent.Uri.Scheme == "kafka")) is { Count: > 0 } problems
            ? throw Refusal(problems)
            : Task.CompletedTask;

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
    /// Runs on the consume loop before any record of the new assignment is read, so nothing is tracked meanwhile;
    /// completions of earlier records may race it, hence the committer's own lock.
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
            .Where(listener => shape.ListenerType.IsInstanceOfType(listener) && ReferenceEquals(shape.Consumer.GetValue(listener), consumer))
            .Select(listener => shape.Committer.GetValue(listener))
            .FirstOrDefault();

    /// <summary>The shape when every assumption holds; else per broken one the member, what was expected and why, what was found.</summary>
    private static (Shape? Shape, IReadOnlyList<string> Problems) Inspect(Type listenerType, Type agentType)
    {
        var problems = new List<string>();
        void Expect(bool holds, Type owner, string member, string expected, MemberInfo? found)
        {
            if (!holds) problems.Add($"{Name(owner)}.{member}: expected {expected}, found {Describe(found)}.");
        }

        // ActiveListeners() hands out IListeningAgents; the listener is the agent's Listener.
        if (!typeof(IListeningAgent).IsAssignableFrom(agentType))
            problems.Add($"{Name(agentType)} is not an {nameof(IListeningAgent)}, which the runtime's ActiveListeners() hands out.");
        var agentListener = agentType.GetProperty("Listener", BindingFlags.Public | BindingFlags.Instance);
        Expect(agentListener is { CanRead: true } && agentListener.PropertyType.IsAssignableFrom(listenerType), agentType, "Listener",
            $"a readable public property that can hold a {Name(listenerType)}", agentListener);

        var consumer = listenerType.GetField("_consumer", Instance);
        Expect(consumer?.FieldType == typeof(IConsumer<string, byte[]>), listenerType, "_consumer", "a field of type " +
            $"{Name(typeof(IConsumer<string, byte[]>))} (the consumer the assignment handler is given, to find its listener)", consumer);

        var committer = listenerType.GetField("_committer", Instance);
        Expect(committer is { FieldType.IsValueType: false }, listenerType, "_committer",
            "a field holding the offset committer (a class)", committer);
        if (committer is null || committer.FieldType.IsValueType) return (null, problems);

        // The committer's `lock` statements are Monitor locks; a System.Threading.Lock would not exclude ours.
        var @lock = committer.FieldType.GetField("_lock", Instance);
        Expect(@lock?.FieldType == typeof(object), committer.FieldType, "_lock",
            "a field of type Object (a Monitor lock, as the committer's own `lock` statements take it and ForgetProgress takes it too)", @lock);

        var watermarks = committer.FieldType.GetField("_watermarks", Instance);
        var dictionary = watermarks?.FieldType.GetInterfaces().Append(watermarks.FieldType)
            .FirstOrDefault(type => type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IDictionary<,>));
        var watermarkType = dictionary?.GetGenericArguments()[1];
        Expect(typeof(IDictionary).IsAssignableFrom(watermarks?.FieldType) && dictionary?.GetGenericArguments()[0] == typeof(TopicPartition),
            committer.FieldType, "_watermarks", "a dictionary (IDictionary and IDictionary<TopicPartition, _>) keyed by the " +
            $"{nameof(TopicPartition)}s the assignment handler is given", watermarks);
        Expect(watermarkType is not { IsValueType: true }, committer.FieldType, "_watermarks",
            "watermarks of a class type (a struct would be reset in a copy)", watermarks);
        if (watermarkType is null || watermarkType.IsValueType) return (null, problems);

        var seen = watermarkType.GetField("_seen", Instance);
        Expect(seen?.FieldType == typeof(bool), watermarkType, "_seen", "a field of type Boolean (whether the watermark has its baseline)", seen);
        if (seen?.FieldType == typeof(bool) && WatermarkRestartProblem(watermarkType, seen) is { } restart)
            problems.Add($"{Name(watermarkType)}: {restart}");

        return problems.Count == 0
            ? (new Shape(agentType, agentListener!, listenerType, consumer!, committer, @lock!, watermarks!, seen!), problems)
            : (null, problems);
    }

    /// <summary>
    /// Tries what resetting <c>_seen</c> is for on a watermark of its own: one that took offset 10, reset, then given the
    /// re-read record at offset 5 (where the consumer resumes after the reassignment), must offer 6.
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
            string Offer(long offset)
            {
                track.Invoke(watermark, [offset]);
                complete.Invoke(watermark, [offset]);
                object?[] arguments = [0L];
                return (bool)take.Invoke(watermark, arguments)! ? arguments[0]!.ToString()! : "nothing";
            }

            var before = Offer(10);
            seen.SetValue(watermark, false);
            var after = Offer(5);
            return (before, after) == ("11", "6") ? null
                : $"after offset 10 it offered {before} (expected 11); reset through _seen, then given offset 5, it offered " +
                  $"{after} (expected 6): resetting _seen does not restart its tracking at the next record.";
        }
        catch (TargetInvocationException e)
        {
            return $"trying what resetting _seen does failed: {e.InnerException?.Message}";
        }
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
