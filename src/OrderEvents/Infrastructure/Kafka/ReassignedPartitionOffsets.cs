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

    private sealed record Shape(Type ListenerType, FieldInfo Consumer, FieldInfo Committer, FieldInfo Lock, FieldInfo Watermarks, FieldInfo Seen);

    private readonly Shape? _shape;
    private readonly IReadOnlyList<string> _shapeProblems;
    private IWolverineRuntime? _runtime;
    private ILogger _logger = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    public ReassignedPartitionOffsets() : this(typeof(KafkaTopicGroupListener)) { }

    /// <summary>For other listener types (tests feed it changed shapes).</summary>
    internal ReassignedPartitionOffsets(Type listenerType) => (_shape, _shapeProblems) = Inspect(listenerType);

    /// <summary>Every way the type differs from Wolverine 6.62's KafkaTopicGroupListener; empty when it fits.</summary>
    internal static IReadOnlyList<string> ShapeProblems(Type listenerType) => Inspect(listenerType).Problems;

    /// <summary>
    /// Once the listeners run, each Kafka agent must be a ListeningAgent holding the expected listener: Wolverine builds
    /// others for some settings (a ParallelListener for ListenerCount &gt; 1, a CompoundListener for tenants), whose committer is out of reach.
    /// </summary>
    internal static IReadOnlyList<string> WiringProblems(IEnumerable<IListeningAgent> kafkaAgents, Type listenerType) =>
    [
        .. kafkaAgents.Select(agent => agent switch
        {
            not ListeningAgent =>
                $"The listening agent of {agent.Uri} is a {Name(agent.GetType())}, not a {nameof(ListeningAgent)}: its listener cannot be reached.",
            ListeningAgent { Listener: { } listener } when !listenerType.IsInstanceOfType(listener) =>
                $"The listener of {agent.Uri} is a {Name(listener.GetType())}, not a {Name(listenerType)}: its offset committer cannot be found.",
            _ => null,
        }).OfType<string>(),
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
        : WiringProblems(_runtime.Endpoints.ActiveListeners().Where(agent => agent.Uri.Scheme == "kafka"), _shape.ListenerType) is
            { Count: > 0 } problems ? throw Refusal(problems) : Task.CompletedTask;

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
        _runtime?.Endpoints.ActiveListeners().OfType<ListeningAgent>()
            .Select(agent => agent.Listener)
            .Where(listener => shape.ListenerType.IsInstanceOfType(listener) && ReferenceEquals(shape.Consumer.GetValue(listener), consumer))
            .Select(listener => shape.Committer.GetValue(listener))
            .FirstOrDefault();

    /// <summary>The shape when every assumption holds; else per broken one the member, what was expected and why, what was found.</summary>
    private static (Shape? Shape, IReadOnlyList<string> Problems) Inspect(Type listenerType)
    {
        var problems = new List<string>();
        FieldInfo? Field(Type owner, string name, Func<Type, bool> fits, string expected)
        {
            var field = owner.GetField(name, Instance);
            if (field is not null && fits(field.FieldType)) return field;
            var found = field is null ? "none" : "a field of type " + Name(field.FieldType);
            problems.Add($"{Name(owner)}.{name}: expected {expected}, found {found}.");
            return null;
        }

        var consumer = Field(listenerType, "_consumer", type => type == typeof(IConsumer<string, byte[]>), "a field of type " +
            $"{Name(typeof(IConsumer<string, byte[]>))} (the consumer the assignment handler is given, to find its listener)");
        var committer = Field(listenerType, "_committer", type => !type.IsValueType, "a field holding the offset committer (a class)");
        if (committer is null) return (null, problems);

        // The committer's `lock` statements are Monitor locks; a System.Threading.Lock would not exclude ours.
        var @lock = Field(committer.FieldType, "_lock", type => type == typeof(object),
            "a field of type Object (a Monitor lock, as the committer's own `lock` statements take it and ForgetProgress takes it too)");
        var watermarks = Field(committer.FieldType, "_watermarks", type => WatermarkTypeOf(type) is not null,
            $"a dictionary (IDictionary and IDictionary<TopicPartition, _>) keyed by the {nameof(TopicPartition)}s the assignment handler " +
            "is given, of watermarks of a class type (a struct would be reset in a copy)");
        if (watermarks is null) return (null, problems);

        var watermarkType = WatermarkTypeOf(watermarks.FieldType)!;
        var seen = Field(watermarkType, "_seen", type => type == typeof(bool), "a field of type Boolean (whether the watermark has its baseline)");
        if (seen is not null && RestartProblem(watermarkType, seen) is { } restart) problems.Add($"{Name(watermarkType)}: {restart}");

        return problems.Count == 0 ? (new Shape(listenerType, consumer!, committer, @lock!, watermarks, seen!), problems) : (null, problems);
    }

    private static Type? WatermarkTypeOf(Type dictionary) =>
        typeof(IDictionary).IsAssignableFrom(dictionary)
        && dictionary.GetInterfaces().FirstOrDefault(type => type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IDictionary<,>))
            ?.GetGenericArguments() is [var key, { IsValueType: false } watermark] && key == typeof(TopicPartition)
            ? watermark
            : null;

    /// <summary>
    /// Tries what resetting <c>_seen</c> is for on a watermark of its own: one that took offset 10, reset, then given the
    /// re-read record at offset 5 (where the consumer resumes after the reassignment), must offer 6.
    /// </summary>
    private static string? RestartProblem(Type watermarkType, FieldInfo seen)
    {
        try
        {
            var watermark = Activator.CreateInstance(watermarkType, nonPublic: true)!;
            object? Call(string name, object?[] arguments) =>
                (watermarkType.GetMethod(name, Instance) ?? throw new MissingMethodException(watermarkType.Name, name)).Invoke(watermark, arguments);
            string Offer(long offset)
            {
                Call("Track", [offset]);
                Call("Complete", [offset]);
                object?[] next = [0L];
                return Call("TryTakeCommittable", next) is true ? next[0]!.ToString()! : "nothing";
            }

            var before = Offer(10);
            seen.SetValue(watermark, false);
            var after = Offer(5);
            return (before, after) == ("11", "6") ? null
                : $"after offset 10 it offered {before} (expected 11); reset through _seen, then given offset 5, it offered " +
                  $"{after} (expected 6): resetting _seen does not restart its tracking at the next record.";
        }
        catch (Exception e)
        {
            return "trying what resetting _seen does (a parameterless constructor, Track(long), Complete(long), " +
                   $"bool TryTakeCommittable(out long)) failed: {e.GetBaseException().Message}";
        }
    }

    private static string Name(Type type) => type.IsGenericType
        ? $"{type.Name.Split('`')[0]}<{string.Join(", ", type.GetGenericArguments().Select(Name))}>"
        : type.Name;
}
