using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using OrderEvents.Infrastructure.Kafka;
using OrderEvents.Tests.Support;
using Wolverine;
using Wolverine.Configuration;
using Wolverine.Kafka.Internals;
using Wolverine.Runtime;
using Wolverine.Transports;

namespace OrderEvents.Tests.Infrastructure;

/// <summary>
/// ReassignedPartitionOffsets reaches into Wolverine's Kafka listener by reflection; its start-up check must refuse
/// every change of what it relies on, with a message naming it. The fakes below have the shape of Wolverine 6.62's
/// KafkaTopicGroupListener → KafkaOffsetCommitter → OffsetWatermark, each variant changing one thing.
/// </summary>
public sealed class ReassignedPartitionOffsetsShapeTests
{
    [Fact]
    public void wolverine_6_62_types_pass()
    {
        ReassignedPartitionOffsets.ShapeProblems(typeof(KafkaTopicGroupListener)).ShouldBeEmpty();
        new ReassignedPartitionOffsets().StartAsync(CancellationToken.None).IsCompletedSuccessfully.ShouldBeTrue();
    }

    [Fact]
    public void the_fakes_pass_in_their_faithful_shape()
    {
        // The positive control of the fakes: the refusals below come from the one thing each variant changes.
        ReassignedPartitionOffsets.ShapeProblems(typeof(Listener<Committer<TopicPartition, Watermark>>)).ShouldBeEmpty();
    }

    public static TheoryData<string, Type, string[]> ChangedShapes => new()
    {
        { "consumer field renamed", typeof(RenamedConsumerListener), ["RenamedConsumerListener._consumer", "found none"] },
        { "consumer of other key type", typeof(ByteKeyConsumerListener), ["ByteKeyConsumerListener._consumer", "IConsumer<String, Byte[]>", "found a field of type IConsumer<Byte[], Byte[]>"] },
        { "no committer", typeof(ListenerWithoutCommitter), ["ListenerWithoutCommitter._committer", "found none"] },
        { "committer is a struct", typeof(Listener<int>), ["._committer", "(a class)", "found a field of type Int32"] },
        { "lock of type Lock", typeof(Listener<LockCommitter>), ["LockCommitter._lock", "Monitor", "found a field of type Lock"] },
        { "lock renamed", typeof(Listener<RenamedLockCommitter>), ["RenamedLockCommitter._lock", "found none"] },
        { "watermarks keyed by (topic, partition)", typeof(Listener<Committer<(string, int), Watermark>>), ["._watermarks", "IDictionary<TopicPartition, _>", "found a field of type Dictionary<ValueTuple<String, Int32>, Watermark>"] },
        { "watermarks keyed by string", typeof(Listener<Committer<string, Watermark>>), ["._watermarks", "keyed by the TopicPartitions", "Dictionary<String, Watermark>"] },
        { "watermarks not a dictionary", typeof(Listener<ListCommitter>), ["ListCommitter._watermarks", "found a field of type List<Watermark>"] },
        { "watermark is a struct", typeof(Listener<Committer<TopicPartition, StructWatermark>>), ["._watermarks", "class type", "StructWatermark"] },
        { "_seen an int", typeof(Listener<Committer<TopicPartition, IntSeenWatermark>>), ["IntSeenWatermark._seen", "Boolean", "found a field of type Int32"] },
        { "_seen renamed", typeof(Listener<Committer<TopicPartition, RenamedSeenWatermark>>), ["RenamedSeenWatermark._seen", "found none"] },
        { "resetting _seen restarts nothing", typeof(Listener<Committer<TopicPartition, ForwardOnlyWatermark>>), ["ForwardOnlyWatermark:", "offered nothing (expected 6)", "does not restart its tracking"] },
        { "watermark methods renamed", typeof(Listener<Committer<TopicPartition, RenamedMethodsWatermark>>), ["RenamedMethodsWatermark:", "TryTakeCommittable(out long)"] },
    };

    [Theory]
    [MemberData(nameof(ChangedShapes))]
    public void a_changed_shape_is_refused_naming_what_changed(string change, Type listenerType, string[] expected)
    {
        var problems = ReassignedPartitionOffsets.ShapeProblems(listenerType);
        problems.ShouldNotBeEmpty(change);
        var message = string.Join("\n", problems);
        foreach (var fragment in expected) message.ShouldContain(fragment, Case.Sensitive, change);
        // Only what changed: each variant changes one assumption.
        problems.Count.ShouldBe(1, message);
    }

    [Fact]
    public async Task start_up_refuses_a_changed_shape_and_says_what_to_do()
    {
        var offsets = new ReassignedPartitionOffsets(typeof(Listener<LockCommitter>));
        var refusal = await Should.ThrowAsync<InvalidOperationException>(() => offsets.StartAsync(CancellationToken.None));
        refusal.Message.ShouldContain("not what ReassignedPartitionOffsets was written for (Wolverine 6.62)");
        refusal.Message.ShouldContain("LockCommitter._lock");
        refusal.Message.ShouldContain("delete ReassignedPartitionOffsets");
    }

    [Fact]
    public void a_listener_reached_otherwise_than_through_a_listening_agent_is_refused()
    {
        // ActiveListeners() hands out IListeningAgents; Wolverine's ListeningAgent holds the listener (a property the compiler
        // checks). The running app's agents, and agents holding another listener type: the test below.
        var otherAgent = ReassignedPartitionOffsets.WiringProblems([new FakeAgent(new Uri("kafka://topic/order-events"))], typeof(KafkaTopicGroupListener));
        otherAgent.ShouldHaveSingleItem().ShouldBe(
            "The listening agent of kafka://topic/order-events is a FakeAgent, not a ListeningAgent: its listener cannot be reached.");
    }
}

/// <summary>The running app's own Kafka listeners are wired as the workaround expects (Wolverine 6.62).</summary>
[Collection(AppCollection.Name)]
public sealed class ReassignedPartitionOffsetsWiringTests(AppFixture fixture)
{
    [Fact]
    public void the_apps_kafka_listener_is_a_listening_agent_holding_a_topic_group_listener()
    {
        var agents = fixture.Host.Services.GetRequiredService<IWolverineRuntime>().Endpoints.ActiveListeners()
            .Where(agent => agent.Uri.Scheme == "kafka").ToList();
        agents.ShouldNotBeEmpty();
        ReassignedPartitionOffsets.WiringProblems(agents, typeof(KafkaTopicGroupListener)).ShouldBeEmpty();
        // The same agents against another listener type: the check looks at what they hold (Wolverine wraps its listeners for
        // some settings: ListenerCount > 1 a ParallelListener, tenants a CompoundListener).
        var mismatched = ReassignedPartitionOffsets.WiringProblems(agents, typeof(Listener<Committer<TopicPartition, Watermark>>));
        mismatched.Count.ShouldBe(agents.Count);
        mismatched.ShouldAllBe(problem => problem.Contains("is a KafkaTopicGroupListener, not a Listener<"));
    }
}

#pragma warning disable CS0169, CS0414, CS0649 // the fakes' fields are only reached by reflection, as Wolverine's are

/// <summary>Wolverine 6.62's OffsetWatermark, as the workaround relies on it.</summary>
internal sealed class Watermark
{
    private readonly SortedSet<long> _inflight = [];
    private long _highWater = -1;
    private bool _seen;
    private long _lastCommittable = -1;

    public void Track(long offset)
    {
        _inflight.Add(offset);
        Observe(offset);
    }

    public void Complete(long offset)
    {
        _inflight.Remove(offset);
        Observe(offset);
    }

    private void Observe(long offset)
    {
        if (!_seen) (_highWater, _lastCommittable, _seen) = (offset, offset, true);
        else if (offset > _highWater) _highWater = offset;
    }

    public bool TryTakeCommittable(out long nextOffset)
    {
        nextOffset = 0;
        if (!_seen) return false;
        var next = _inflight.Count == 0 ? _highWater + 1 : _inflight.Min;
        if (next <= _lastCommittable) return false;
        (_lastCommittable, nextOffset) = (next, next);
        return true;
    }
}

/// <summary>Has _seen, but never takes a baseline again: a reset changes nothing.</summary>
internal sealed class ForwardOnlyWatermark
{
    private bool _seen;
    private long _highWater = -1;
    private long _lastCommittable = -1;

    public void Track(long offset) => _highWater = Math.Max(_highWater, offset);

    public void Complete(long offset) => _highWater = Math.Max(_highWater, offset);

    public bool TryTakeCommittable(out long nextOffset)
    {
        nextOffset = 0;
        if (_highWater + 1 <= _lastCommittable) return false;
        (_lastCommittable, nextOffset) = (_highWater + 1, _highWater + 1);
        return true;
    }
}

internal sealed class RenamedMethodsWatermark
{
    private bool _seen;

    public void Track(long offset) { }

    public void Complete(long offset) { }

    public bool TryTakeNext(out long nextOffset) => (nextOffset = 0) > 0;
}

internal struct StructWatermark
{
    private bool _seen;
}

internal sealed class IntSeenWatermark
{
    private int _seen;
}

internal sealed class RenamedSeenWatermark
{
    private bool _hasBaseline;
}

internal sealed class Committer<TKey, TWatermark> where TKey : notnull
{
    private readonly object _lock = new();
    private readonly Dictionary<TKey, TWatermark> _watermarks = [];
}

internal sealed class LockCommitter
{
    private readonly Lock _lock = new();
    private readonly Dictionary<TopicPartition, Watermark> _watermarks = [];
}

internal sealed class RenamedLockCommitter
{
    private readonly object _sync = new();
    private readonly Dictionary<TopicPartition, Watermark> _watermarks = [];
}

internal sealed class ListCommitter
{
    private readonly object _lock = new();
    private readonly List<Watermark> _watermarks = [];
}

internal sealed class Listener<TCommitter>
{
    private readonly IConsumer<string, byte[]>? _consumer;
    private readonly TCommitter? _committer;
}

internal sealed class RenamedConsumerListener
{
    private readonly IConsumer<string, byte[]>? _kafkaConsumer;
    private readonly Committer<TopicPartition, Watermark>? _committer;
}

internal sealed class ByteKeyConsumerListener
{
    private readonly IConsumer<byte[], byte[]>? _consumer;
    private readonly Committer<TopicPartition, Watermark>? _committer;
}

internal sealed class ListenerWithoutCommitter
{
    private readonly IConsumer<string, byte[]>? _consumer;
}

/// <summary>A listening agent of another kind than Wolverine's ListeningAgent.</summary>
internal sealed class FakeAgent(Uri uri) : IListeningAgent
{
    public Uri Uri { get; } = uri;
    public DateTimeOffset LastQueueActivityAt => DateTimeOffset.MinValue;
    public ListeningStatus Status => ListeningStatus.Accepting;
    public Endpoint Endpoint => throw new NotSupportedException();
    public int QueueCount => 0;
    public ValueTask StopAndDrainAsync() => throw new NotSupportedException();
    public ValueTask MarkAsTooBusyAndStopReceivingAsync() => throw new NotSupportedException();
    public ValueTask LatchPermanently() => throw new NotSupportedException();
    public ValueTask PauseAsync(TimeSpan pauseTime) => throw new NotSupportedException();
    public ValueTask PauseWithDrainAsync(TimeSpan pauseTime) => throw new NotSupportedException();
    public ValueTask StartAsync() => throw new NotSupportedException();
    public Task EnqueueDirectlyAsync(IEnumerable<Envelope> envelopes) => throw new NotSupportedException();
}
