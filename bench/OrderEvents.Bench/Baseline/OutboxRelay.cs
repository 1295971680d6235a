using System.Threading.Channels;
using Confluent.Kafka;
using Npgsql;

namespace OrderEvents.Bench.Baseline;

/// <summary>
/// Publishes outbox rows to Kafka and deletes them: one transaction per batch deletes up to 500 rows (oldest first),
/// produces them, waits for the broker's acks, then commits; a failed produce rolls the delete back. Woken after every
/// committed order change, and once a second in case a wake-up was missed (e.g. rows left by a crash).
/// One relay, batches in id order: the events of one order reach the topic in the order they were committed.
/// </summary>
public sealed class OutboxRelay(NpgsqlDataSource db, BareSettings settings, ILogger<OutboxRelay> logger) : BackgroundService
{
    private const int BatchSize = 500;
    private readonly Channel<bool> _wakeUps = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    public void Signal() => _wakeUps.Writer.TryWrite(true);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var producer = new ProducerBuilder<string, string>(new ProducerConfig
        {
            BootstrapServers = settings.Brokers,
            Acks = Acks.All,
            EnableIdempotence = true,
            LingerMs = 1,
        }).Build();

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                timeout.CancelAfter(TimeSpan.FromSeconds(1));
                await _wakeUps.Reader.ReadAsync(timeout.Token);
            }
            catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
            {
            }

            try
            {
                while (await PublishBatchAsync(producer, stoppingToken) == BatchSize)
                {
                }
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(e, "Outbox relay batch failed; retrying");
                await Task.Delay(200, stoppingToken);
            }
        }
    }

    private async Task<int> PublishBatchAsync(IProducer<string, string> producer, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var rows = new List<(long Id, string Key, string Payload)>();
        await using (var command = new NpgsqlCommand(
                         "delete from outbox where id in (select id from outbox order by id limit $1 for update skip locked) returning id, message_key, payload",
                         connection, transaction))
        {
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = BatchSize });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken)) rows.Add((reader.GetInt64(0), reader.GetString(1), reader.GetString(2)));
        }

        if (rows.Count == 0)
        {
            // Nothing to send (a wake-up whose rows an earlier batch already took): no commit to count.
            await transaction.RollbackAsync(cancellationToken);
            return 0;
        }

        rows.Sort((a, b) => a.Id.CompareTo(b.Id));
        // Produce() keeps the order per partition (idempotent producer); ProduceAsync per row would too, but allocates a Task each.
        var failures = 0;
        var pending = rows.Count;
        var allAcked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        foreach (var row in rows)
            producer.Produce(settings.Topic, new Message<string, string> { Key = row.Key, Value = row.Payload }, report =>
            {
                if (report.Error.IsError) Interlocked.Increment(ref failures);
                if (Interlocked.Decrement(ref pending) == 0) allAcked.TrySetResult();
            });
        await allAcked.Task.WaitAsync(cancellationToken);
        if (failures > 0) throw new KafkaException(new Error(ErrorCode.Local_Fail, $"{failures} of {rows.Count} outbox records were not acknowledged"));

        await transaction.CommitAsync(cancellationToken);
        return rows.Count;
    }
}
