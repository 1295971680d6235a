using Npgsql;
using OrderEvents.Infrastructure.Postgres;

namespace OrderEvents.Features.Notifications;

/// <summary>
/// One LISTEN connection per app instance, fanned out to the open notification streams of this instance. The insert
/// trigger NOTIFYs the user id at commit, whichever instance stored the row. A signal only says "read the table
/// again": streams always read by position, so a lost or duplicate signal costs at most one heartbeat of latency.
/// </summary>
public sealed class NotificationSignals(PostgresConnection postgres, ILogger<NotificationSignals> logger) : BackgroundService
{
    public const string Channel = "notifications_stored";

    private readonly Lock _gate = new();
    private readonly Dictionary<long, HashSet<Subscription>> _byUser = [];

    /// <summary>Signals for one user's notifications until disposed.</summary>
    public Subscription Subscribe(long userId)
    {
        var subscription = new Subscription(this, userId);
        lock (_gate)
        {
            if (!_byUser.TryGetValue(userId, out var set)) _byUser[userId] = set = [];
            set.Add(subscription);
        }
        return subscription;
    }

    private void Unsubscribe(Subscription subscription)
    {
        lock (_gate)
        {
            if (_byUser.TryGetValue(subscription.UserId, out var set) && set.Remove(subscription) && set.Count == 0)
                _byUser.Remove(subscription.UserId);
        }
    }

    private void Wake(long userId)
    {
        lock (_gate)
            if (_byUser.TryGetValue(userId, out var set))
                foreach (var subscription in set) subscription.Signal();
    }

    /// <summary>After (re)connecting, signals sent while nobody listened are lost: let every stream read again.</summary>
    private void WakeAll()
    {
        lock (_gate)
            foreach (var subscription in _byUser.Values.SelectMany(set => set)) subscription.Signal();
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
                WakeAll();
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
                try { await Task.Delay(TimeSpan.FromSeconds(2), stoppingToken); }
                catch (OperationCanceledException) { return; }
            }
        }
    }

    /// <summary>A stream's wake-up: several signals before it looks collapse into one.</summary>
    public sealed class Subscription(NotificationSignals owner, long userId) : IDisposable
    {
        private readonly SemaphoreSlim _signal = new(0, 1);

        public long UserId { get; } = userId;

        internal void Signal()
        {
            try { _signal.Release(); }
            catch (SemaphoreFullException) { }
        }

        /// <summary>True when signalled, false when the timeout passed first.</summary>
        public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) => _signal.WaitAsync(timeout, cancellationToken);

        public void Dispose()
        {
            owner.Unsubscribe(this);
            _signal.Dispose();
        }
    }
}
