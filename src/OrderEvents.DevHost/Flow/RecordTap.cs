using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Threading.Channels;
using Confluent.Kafka;
using OrderEvents.Infrastructure.Kafka;
using Wolverine;
using Wolverine.Kafka.Internals;

namespace OrderEvents.DevHost.Flow;

/// <summary>One record of `order-events` as the broker holds it: the value is the exact bytes, as UTF-8 text.</summary>
public sealed record TappedRecord(
    string Topic, int Partition, long Offset, string? Key, DateTimeOffset Timestamp,
    IReadOnlyList<TappedHeader> Headers, string Value, int ValueBytes, bool Truncated)
{
    /// <summary>The order event's user, read from the value; null when the value is not an attributable event.</summary>
    [JsonIgnore]
    public long? UserId { get; init; }

    /// <summary>A user sees the records of their own orders; an admin sees every record, unattributable ones included.</summary>
    public bool IsVisibleTo(long userId, bool isAdmin) => isAdmin || UserId == userId;
}

public sealed record TappedHeader(string Name, string Value);

/// <summary>
/// Reads the records newly published to `order-events` and hands each to the open record streams that may see it.
/// It joins no consumer group: it assigns itself every partition at its end offset and never commits, so the
/// notification listener's group (its members, assignments and offsets) cannot notice it. One consumer serves every
/// page of this instance; it starts with the first page and stops with the app.
/// </summary>
public sealed class RecordTap(IServiceProvider services, ILogger<RecordTap> logger) : IAsyncDisposable
{
    /// <summary>Values larger than this are cut (a 1 MB poison record would only slow the page down).</summary>
    public const int MaxValueChars = 64 * 1024;

    private readonly Lock _gate = new();
    private readonly List<Subscription> _subscriptions = [];
    private readonly TaskCompletionSource _assigned = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stopping = new();
    private Task? _consuming;

    /// <summary>
    /// The records published from now on that this viewer may see. Returns once the tap reads every partition, so a
    /// record published after this returns is delivered (while the broker is unreachable, it waits).
    /// </summary>
    public async Task<Subscription> SubscribeAsync(long userId, bool isAdmin, CancellationToken cancellationToken)
    {
        var subscription = new Subscription(this, userId, isAdmin);
        lock (_gate)
        {
            _subscriptions.Add(subscription);
            _consuming ??= Task.Factory.StartNew(Consume, TaskCreationOptions.LongRunning);
        }

        try
        {
            await _assigned.Task.WaitAsync(cancellationToken);
            return subscription;
        }
        catch
        {
            subscription.Dispose();
            throw;
        }
    }

    private void Unsubscribe(Subscription subscription)
    {
        lock (_gate) _subscriptions.Remove(subscription);
    }

    private void Consume()
    {
        var stopping = _stopping.Token;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                using var consumer = BuildConsumer();
                consumer.Assign(PartitionEnds(consumer));
                _assigned.TrySetResult();
                logger.LogInformation("Flow page: tapping {Topic} for new records (no consumer group)", KafkaSettings.OrderEventsTopic);
                while (!stopping.IsCancellationRequested)
                {
                    ConsumeResult<byte[]?, byte[]?>? result;
                    try
                    {
                        result = consumer.Consume(stopping);
                    }
                    catch (ConsumeException exception)
                    {
                        logger.LogDebug(exception, "Flow page: the record tap skipped a record it could not read");
                        continue;
                    }

                    if (result?.Message is null) continue;
                    var record = Read(result);
                    lock (_gate)
                        foreach (var subscription in _subscriptions)
                            if (record.IsVisibleTo(subscription.UserId, subscription.IsAdmin)) subscription.Deliver(record);
                }

                consumer.Close();
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (KafkaException exception)
            {
                // Typically the broker is unreachable before the first assignment: try again shortly.
                logger.LogDebug(exception, "Flow page: the record tap could not read {Topic}; retrying", KafkaSettings.OrderEventsTopic);
                if (stopping.WaitHandle.WaitOne(TimeSpan.FromSeconds(1))) return;
            }
            catch (Exception exception) when (!stopping.IsCancellationRequested)
            {
                // Anything else must not end the tap for good: the pages would wait on "connecting" forever.
                logger.LogWarning(exception, "Flow page: the record tap failed; starting it again");
                if (stopping.WaitHandle.WaitOne(TimeSpan.FromSeconds(1))) return;
            }
        }
    }

    private IConsumer<byte[]?, byte[]?> BuildConsumer()
    {
        // The transport's settings (bootstrap servers, security, client tuning), with a group of its own that is never
        // joined (assign, not subscribe) and never committed to.
        var transport = services.GetRequiredService<WolverineOptions>().Transports.GetOrCreate<KafkaTransport>();
        var config = new ConsumerConfig(transport.ConsumerConfig.ToDictionary(setting => setting.Key, setting => setting.Value))
        {
            GroupId = $"orderevents-flow-tap-{Guid.NewGuid():N}",
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            EnablePartitionEof = false,
        };
        return new ConsumerBuilder<byte[]?, byte[]?>(config)
            // An outage is shown on the page; librdkafka's reconnect chatter stays out of the console.
            .SetLogHandler((_, message) => logger.LogDebug("Flow page record tap: {Message}", message.Message))
            .SetErrorHandler((_, error) => logger.LogDebug("Flow page record tap: {Reason}", error.Reason))
            .Build();
    }

    /// <summary>Every partition of the topic at its current end: explicit offsets, so nothing published from now on is skipped.</summary>
    private List<TopicPartitionOffset> PartitionEnds(IConsumer<byte[]?, byte[]?> consumer)
    {
        var transport = services.GetRequiredService<WolverineOptions>().Transports.GetOrCreate<KafkaTransport>();
        using var admin = new AdminClientBuilder(transport.AdminClientConfig).Build();
        var topic = admin.GetMetadata(KafkaSettings.OrderEventsTopic, TimeSpan.FromSeconds(5)).Topics.Single();
        if (topic.Error.IsError) throw new KafkaException(topic.Error);
        return topic.Partitions
            .Select(partition => new TopicPartition(KafkaSettings.OrderEventsTopic, partition.PartitionId))
            .Select(partition => new TopicPartitionOffset(partition, consumer.QueryWatermarkOffsets(partition, TimeSpan.FromSeconds(5)).High))
            .ToList();
    }

    public static TappedRecord Read(ConsumeResult<byte[]?, byte[]?> result)
    {
        var message = result.Message;
        var bytes = message.Value ?? [];
        var value = Encoding.UTF8.GetString(bytes);
        var truncated = value.Length > MaxValueChars;
        return new TappedRecord(
            result.Topic, result.Partition.Value, result.Offset.Value,
            message.Key is null ? null : Encoding.UTF8.GetString(message.Key),
            DateTimeOffset.FromUnixTimeMilliseconds(message.Timestamp.UnixTimestampMs),
            (message.Headers ?? []).Select(header => new TappedHeader(header.Key, Encoding.UTF8.GetString(header.GetValueBytes() ?? []))).ToList(),
            truncated ? value[..MaxValueChars] : value, bytes.Length, truncated)
        {
            UserId = UserIdOf(bytes),
        };
    }

    /// <summary>The `userId` of an order event's JSON value, or null for anything else (the listener dead-letters those).</summary>
    public static long? UserIdOf(byte[] value)
    {
        try
        {
            var reader = new Utf8JsonReader(value);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isUserId = reader.ValueTextEquals("userId");
                reader.Read();
                if (isUserId) return reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var userId) ? userId : null;
                reader.Skip();
            }
            return null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        if (_consuming is not null) await _consuming.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stopping.Dispose();
    }

    /// <summary>One open record stream: a buffer that never blocks the tap (a page that falls 10,000 behind loses the oldest).</summary>
    public sealed class Subscription(RecordTap tap, long userId, bool isAdmin) : IDisposable
    {
        private readonly Channel<TappedRecord> _records = Channel.CreateBounded<TappedRecord>(
            new BoundedChannelOptions(10_000) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });

        public long UserId { get; } = userId;

        public bool IsAdmin { get; } = isAdmin;

        public ChannelReader<TappedRecord> Records => _records.Reader;

        internal void Deliver(TappedRecord record) => _records.Writer.TryWrite(record);

        public void Dispose()
        {
            tap.Unsubscribe(this);
            _records.Writer.TryComplete();
        }
    }
}
