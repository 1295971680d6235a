namespace OrderEvents.Infrastructure.Postgres;

/// <summary>
/// Ejects a dead Wolverine node as soon as its process is gone, not after Wolverine's staleness rule (3 s of silence):
/// each node holds a session-level advisory lock named after its node id, which PostgreSQL releases as soon as a killed
/// process's socket closes. Every second, and once at start, a node whose lock is free and whose heartbeat is late is
/// ejected through Wolverine's own <c>INodeAgentPersistence.DeleteAsync</c>, which releases its envelopes. A paused or
/// slow node keeps its session, so its lock; one cut off while alive loses nothing and takes its lock again later.
/// Wolverine's own rule catches what this misses (docs/architecture.md).
/// </summary>
public sealed class NodeLiveness(IWolverineRuntime runtime, PostgresConnection postgres, ILogger<NodeLiveness> logger)
    : IHostedLifecycleService, IAsyncDisposable
{
    /// <summary>First key of the two-key advisory locks (the second is the node id's hash): "OrEv".</summary>
    private const int LockSpace = 0x4F724576;

    private const string Nodes = PersistenceSetup.Schema + ".wolverine_nodes";

    private readonly CancellationTokenSource _stopping = new();
    private NpgsqlConnection? _session;
    private Task _probing = Task.CompletedTask;

    private bool Applies => runtime.Options.Durability.Mode == DurabilityMode.Balanced;

    /// <summary>Before Wolverine starts, so the lock is held before the node's row exists.</summary>
    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        if (Applies) await HoldOwnLockAsync(cancellationToken);
    }

    /// <summary>Once Wolverine runs: a restarted node releases its predecessor's work at once, then every second.</summary>
    public Task StartedAsync(CancellationToken cancellationToken)
    {
        if (Applies) _probing = ProbeEverySecondAsync(_stopping.Token);
        return Task.CompletedTask;
    }

    public async Task StoppingAsync(CancellationToken cancellationToken) => await _stopping.CancelAsync();

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => DisposeAsync().AsTask();

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await _probing.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        // Closing the session releases the lock (no pooling: the connection really closes).
        if (_session is not null) await _session.DisposeAsync();
        _session = null;
    }

    private async Task HoldOwnLockAsync(CancellationToken cancellationToken)
    {
        if (_session is not null) await _session.DisposeAsync();
        var connection = new NpgsqlConnectionStringBuilder(PostgresConnectionDefaults.Apply(postgres.ConnectionString))
        {
            Pooling = false,
            ApplicationName = "orderevents-node-liveness",
        };
        _session = new NpgsqlConnection(connection.ConnectionString);
        await _session.OpenAsync(cancellationToken);
        await using var hold = new NpgsqlCommand("select pg_advisory_lock(@space, hashtext(@node::text))", _session);
        hold.Parameters.AddWithValue("space", LockSpace);
        hold.Parameters.AddWithValue("node", runtime.Options.UniqueNodeId);
        await hold.ExecuteNonQueryAsync(cancellationToken);
    }

    private async Task ProbeEverySecondAsync(CancellationToken stopping)
    {
        var interval = runtime.Options.Durability.HealthCheckPollingTime;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                if (_session is not { State: System.Data.ConnectionState.Open }) await HoldOwnLockAsync(stopping);
                await EjectDeadNodesAsync(interval, stopping);
            }
            catch (Exception exception) when (!stopping.IsCancellationRequested)
            {
                // Most likely PostgreSQL is away: the outage is reported elsewhere. A broken session is no longer open,
                // so the next round takes the lock again (HoldOwnLockAsync); an open one still holds it.
                logger.LogDebug(exception, "Could not check other nodes' liveness");
            }

            try { await Task.Delay(interval, stopping); }
            catch (OperationCanceledException) { }
        }
    }

    /// <summary>
    /// Dead: its lock is free (taken here for the length of this statement only) and its heartbeat, written every
    /// <paramref name="heartbeat"/>, is half a beat late. The lateness covers a node restarting its session.
    /// </summary>
    private async Task EjectDeadNodesAsync(TimeSpan heartbeat, CancellationToken stopping)
    {
        var dead = new List<(Guid Id, int Number, DateTimeOffset LastHeartbeat)>();
        await using (var find = new NpgsqlCommand(
                         $"select id, node_number, health_check from {Nodes} where id <> @self " +
                         "and health_check < now() - @late and pg_try_advisory_xact_lock(@space, hashtext(id::text))", _session))
        {
            find.Parameters.AddWithValue("self", runtime.Options.UniqueNodeId);
            find.Parameters.AddWithValue("late", heartbeat * 1.5);
            find.Parameters.AddWithValue("space", LockSpace);
            await using var reader = await find.ExecuteReaderAsync(stopping);
            while (await reader.ReadAsync(stopping)) dead.Add((reader.GetGuid(0), reader.GetInt32(1), reader.GetFieldValue<DateTimeOffset>(2)));
        }

        foreach (var node in dead)
        {
            await runtime.Storage.Nodes.DeleteAsync(node.Id, node.Number);
            // Worded like Wolverine's own ejection, "stale" replaced by "dead": one search finds both.
            logger.LogWarning(
                "Ejected dead node {NodeId} (assigned node number {NodeNumber}): its PostgreSQL session has ended and its last health check was at {LastHealthCheck}. Its node record has been deleted and every inbox and outbox envelope it owned has been released for recovery",
                node.Id, node.Number, node.LastHeartbeat);
        }
    }
}
