using System.Collections.Concurrent;

namespace OrderEvents.Features.Notifications;

/// <summary>
/// One LISTEN connection per app instance, fanned out to the open notification streams of this instance. The insert
/// trigger NOTIFYs the user id at commit, whichever instance stored the row. A signal only says "read the table
/// again": streams always read by position, so a lost or duplicate signal costs at most one heartbeat of latency.
/// </summary>
public sealed class NotificationSignals(PostgresConnection postgres, ILogger<NotificationSignals> logger) : BackgroundService
{
    public const string Channel = "notifications_stored";

    // One pending signal per user with an open stream; completed and dropped when that user's next notification is stored.
    private readonly ConcurrentDictionary<long, TaskCompletionSource> _next = new();

    /// <summary>Completes at the next signal for the user's notifications: take it before reading, so none is missed.</summary>
    public Task Next(long userId) => _next.GetOrAdd(userId, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    private void Wake(long userId)
    {
        if (_next.TryRemove(userId, out var signal)) signal.TrySetResult();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Keepalive detects a connection that died silently, so the loop reconnects instead of waiting forever.
        var connectionString = new NpgsqlConnectionStringBuilder(postgres.ConnectionString) { KeepAlive = 15 }.ConnectionString;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = new NpgsqlConnection(connectionString);
                await connection.OpenAsync(stoppingToken);
                connection.Notification += (_, e) =>
                {
                    if (long.TryParse(e.Payload, out var userId)) Wake(userId);
                };
                await using (var listen = new NpgsqlCommand($"listen {Channel}", connection))
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                // Signals sent while nobody listened are lost: let every stream read again.
                foreach (var userId in _next.Keys) Wake(userId);
                while (true) await connection.WaitAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                // Streams keep working meanwhile by polling on their heartbeat.
                logger.LogWarning(exception, "Notification listener lost its PostgreSQL connection; reconnecting in 2 s");
                await Task.Delay(TimeSpan.FromSeconds(2), stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }
}
