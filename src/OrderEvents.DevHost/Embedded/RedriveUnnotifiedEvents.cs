using Microsoft.EntityFrameworkCore;
using OrderEvents.Features.Notifications;
using OrderEvents.Features.Orders;

namespace OrderEvents.DevHost.Embedded;

/// <summary>
/// The in-process broker keeps its records in memory: a crash loses every event it held but had not yet delivered,
/// although each of them is safe in the order log. So whenever the app starts with the embedded broker, every logged
/// event that has no notification yet is published again (idempotency absorbs the ones still on their way).
/// </summary>
public sealed class RedriveUnnotifiedEvents(
    OrderEventReplay replay, IServiceScopeFactory scopes, IHostApplicationLifetime lifetime, ILogger<RedriveUnnotifiedEvents> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Only once Wolverine's senders and listeners run.
        if (!await WaitForStart(stoppingToken)) return;
        var count = await replay.ReplayAsync(new ReplayFilter(), AlreadyNotified, stoppingToken);
        if (count > 0) logger.LogInformation("Re-drove {Count} logged order events that had no notification yet", count);
    }

    private async Task<IReadOnlySet<Guid>> AlreadyNotified(IReadOnlyCollection<Guid> eventIds, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<NotificationsDbContext>();
        var ids = eventIds.ToList();
        return (await db.Notifications.Where(n => ids.Contains(n.Id)).Select(n => n.Id).ToListAsync(cancellationToken)).ToHashSet();
    }

    private async Task<bool> WaitForStart(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource();
        await using var _ = lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        await using var __ = stoppingToken.Register(() => started.TrySetCanceled());
        try
        {
            await started.Task;
            return true;
        }
        catch (TaskCanceledException)
        {
            return false;
        }
    }
}
