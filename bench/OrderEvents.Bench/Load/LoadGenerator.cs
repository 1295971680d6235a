using System.Collections.Concurrent;
using System.Diagnostics;

namespace OrderEvents.Bench.Load;

public static class LoadGenerator
{
    /// <summary>
    /// Open loop: request i is due at start + i / rate, whatever happened to earlier ones, and its latency runs from
    /// that due time (not from when it was actually sent), so a stalled server or a late client shows as latency
    /// instead of silently lowering the rate (no coordinated omission). Bounded: rate x duration requests.
    /// With a mix, pays and cancels go to orders created earlier in the same phase (a create when none is pending).
    /// </summary>
    public static async Task<Traffic> OpenLoopAsync(ApiClient client, double rate, TimeSpan duration, (double Create, double Pay, double Cancel)? mix, int seed)
    {
        var traffic = new Traffic();
        var total = (int)Math.Round(rate * duration.TotalSeconds);
        var pending = new ConcurrentQueue<PendingOrder>();
        var random = new Random(seed);
        var inFlight = new Task[total];
        var ticksPerRequest = Stopwatch.Frequency / rate;
        var start = Stopwatch.GetTimestamp();

        var dispatcher = new Thread(() =>
        {
            for (var i = 0; i < total; i++)
            {
                var due = start + (long)(i * ticksPerRequest);
                while (true)
                {
                    var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
                    if (wait <= TimeSpan.Zero) break;
                    if (wait > TimeSpan.FromMilliseconds(1.5)) Thread.Sleep(1);
                    else Thread.SpinWait(50);
                }

                var operation = Operation.Create;
                PendingOrder? target = null;
                if (mix is { } shares)
                {
                    var draw = random.NextDouble();
                    var wanted = draw < shares.Create ? Operation.Create : draw < shares.Create + shares.Pay ? Operation.Pay : Operation.Cancel;
                    if (wanted != Operation.Create && pending.TryDequeue(out var order)) (operation, target) = (wanted, order);
                }

                Interlocked.Increment(ref traffic.Sent);
                inFlight[i] = SendAsync(client, operation, target, due, traffic, mix is null ? null : pending);
            }
        }) { IsBackground = true, Name = "open-loop dispatcher", Priority = ThreadPriority.AboveNormal };
        dispatcher.Start();
        await Task.Run(dispatcher.Join);
        await Task.WhenAll(inFlight);
        traffic.ElapsedSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        return traffic;
    }

    /// <summary>Closed loop: each connection sends its next create as soon as the previous one answered, until the time or count is up.</summary>
    public static async Task<Traffic> ClosedLoopAsync(ApiClient client, int connections, TimeSpan duration, int maxRequests)
    {
        var traffic = new Traffic();
        var start = Stopwatch.GetTimestamp();
        var budget = maxRequests;

        async Task Connection()
        {
            await Task.Yield();
            while (Stopwatch.GetElapsedTime(start) < duration && Interlocked.Decrement(ref budget) >= 0)
            {
                Interlocked.Increment(ref traffic.Sent);
                await SendAsync(client, Operation.Create, null, Stopwatch.GetTimestamp(), traffic, null);
            }
        }

        await Task.WhenAll(Enumerable.Range(0, connections).Select(_ => Task.Run(Connection)));
        traffic.ElapsedSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        return traffic;
    }

    private static async Task SendAsync(ApiClient client, Operation operation, PendingOrder? target, long due, Traffic traffic, ConcurrentQueue<PendingOrder>? pending)
    {
        var outcome = await client.SendAsync(operation, target);
        traffic.Record(operation, outcome, Stopwatch.GetElapsedTime(due).TotalMilliseconds);
        if (outcome.Ok && operation == Operation.Create) pending?.Enqueue(new PendingOrder(outcome.OrderId!.Value, outcome.User));
    }
}
