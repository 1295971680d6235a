using System.Text.Json;
using Confluent.Kafka;
using Npgsql;

namespace OrderEvents.Bench.Baseline;

/// <summary>
/// Reads order events in batches (whatever is fetched, up to 500), stores their notifications in one statement
/// (idempotent: the notification id is the event id), then commits the batch's offsets. A crash between the insert and
/// the offset commit replays the batch, which inserts nothing new.
/// </summary>
public sealed class NotificationConsumer(NpgsqlDataSource db, BareSettings settings, ILogger<NotificationConsumer> logger) : BackgroundService
{
    private const int BatchSize = 500;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        // Consume() blocks: its own thread (everything below stays on it), not the thread pool's.
        Task.Factory.StartNew(() => Run(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Run(CancellationToken stoppingToken)
    {
        try
        {
            ConsumeUntilStopped(stoppingToken);
        }
        catch (Exception e) when (!stoppingToken.IsCancellationRequested)
        {
            logger.LogCritical(e, "The notification consumer stopped");
            throw;
        }
    }

    private void ConsumeUntilStopped(CancellationToken stoppingToken)
    {
        EnsureTopic();
        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = settings.Brokers,
            GroupId = settings.GroupId,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
            FetchWaitMaxMs = 10,
            SessionTimeoutMs = 6000,
            HeartbeatIntervalMs = 500,
        })
            .SetPartitionsAssignedHandler((_, partitions) => Console.WriteLine($"Consumer assigned {string.Join(", ", partitions)}"))
            .SetErrorHandler((_, error) => Console.WriteLine($"Consumer error: {error}"))
            .Build();
        consumer.Subscribe(settings.Topic);

        var batch = new List<ConsumeResult<string, string>>(BatchSize);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                batch.Clear();
                var first = consumer.Consume(stoppingToken);
                if (first?.Message is null) continue;
                batch.Add(first);
                while (batch.Count < BatchSize && consumer.Consume(TimeSpan.Zero) is { Message: not null } next) batch.Add(next);

                StoreAsync(batch, stoppingToken).GetAwaiter().GetResult();
                consumer.Commit(batch
                    .GroupBy(record => record.TopicPartition)
                    .Select(partition => new TopicPartitionOffset(partition.Key, partition.Max(record => record.Offset.Value) + 1)));
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (Exception e)
            {
                // Not committed: seek back so the batch is read again (in order) after a pause.
                logger.LogWarning(e, "Storing a notification batch failed; retrying it");
                foreach (var partition in batch.GroupBy(record => record.TopicPartition))
                    consumer.Seek(new TopicPartitionOffset(partition.Key, partition.Min(record => record.Offset.Value)));
                stoppingToken.WaitHandle.WaitOne(200);
            }
        }

        consumer.Close();
    }

    private async Task StoreAsync(List<ConsumeResult<string, string>> batch, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        var ids = new List<Guid>(batch.Count);
        var users = new List<long>(batch.Count);
        var types = new List<string>(batch.Count);
        var messages = new List<string>(batch.Count);
        var orders = new List<long>(batch.Count);
        foreach (var record in batch)
        {
            OrderEvent? orderEvent;
            try
            {
                orderEvent = JsonSerializer.Deserialize<OrderEvent>(record.Message.Value, BaselineJson.Events);
            }
            catch (JsonException e)
            {
                logger.LogWarning(e, "Skipping a malformed record at {Offset}", record.TopicPartitionOffset);
                continue;
            }

            if (orderEvent?.NotificationMessage() is not { } message) continue;
            ids.Add(orderEvent.EventId);
            users.Add(orderEvent.UserId);
            types.Add(orderEvent.EventType);
            messages.Add(message);
            orders.Add(orderEvent.OrderId);
        }

        if (ids.Count == 0) return;
        await using var command = db.CreateCommand("""
            insert into notifications (id, user_id, type, message, order_id, created_at)
            select id, user_id, type, message, order_id, $6 from unnest($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::bigint[])
                as t (id, user_id, type, message, order_id)
            on conflict (id) do nothing
            """);
        command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = ids.ToArray() });
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = users.ToArray() });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = types.ToArray() });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = messages.ToArray() });
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = orders.ToArray() });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// The mock broker cannot CreateTopics, and a consumer subscribing to a missing topic waits about a minute:
    /// a metadata request from an admin (producer) handle auto-creates it first.
    /// </summary>
    private void EnsureTopic()
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = settings.Brokers }).Build();
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var metadata = admin.GetMetadata(settings.Topic, TimeSpan.FromSeconds(5));
            if (metadata.Topics.FirstOrDefault() is { Error.IsError: false, Partitions.Count: > 0 } topic)
            {
                Console.WriteLine($"Topic {settings.Topic}: {topic.Partitions.Count} partitions");
                return;
            }
            Thread.Sleep(100);
        }

        throw new InvalidOperationException($"Topic {settings.Topic} could not be created on {settings.Brokers}");
    }
}
