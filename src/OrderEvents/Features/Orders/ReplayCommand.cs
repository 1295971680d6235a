using System.Globalization;
using JasperFx.CommandLine;
using Wolverine.Runtime;

namespace OrderEvents.Features.Orders;

public class ReplayInput : NetCoreInput
{
    [Description("Only this order's events")]
    public long? OrderFlag { get; set; }

    [Description("Only events stored at or after this time (ISO-8601, e.g. 2026-11-28T10:00:00Z)")]
    public string? SinceFlag { get; set; }
}

/// <summary>
/// `dotnet run --project src/OrderEvents -- replay [--order N] [--since TIME]`: publishes logged order events to
/// Kafka again, with their original event ids, and waits until the outbox has sent them. Consumers that already
/// handled an event ignore it; a new consumer group or a repaired consumer gets the history.
/// </summary>
[Description("Re-publishes order events from the event log to Kafka (all, one order, or since a time)", Name = "replay")]
public class ReplayCommand : JasperFxAsyncCommand<ReplayInput>
{
    public override async Task<bool> Execute(ReplayInput input)
    {
        DateTimeOffset? since = null;
        if (input.SinceFlag is { } text)
        {
            if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed))
            {
                await Console.Error.WriteLineAsync($"--since: '{text}' is not a date and time (use ISO-8601, e.g. 2026-11-28T10:00:00Z)");
                return false;
            }

            since = parsed;
        }

        using var host = input.BuildHost();
        await host.StartAsync();
        var count = await host.Services.GetRequiredService<OrderEventReplay>()
            .ReplayAsync(new ReplayFilter(input.OrderFlag, since), skip: null, CancellationToken.None);
        Console.WriteLine($"Published {count} order events from the log; waiting for the outbox to send them");

        var storage = host.Services.GetRequiredService<IWolverineRuntime>().Storage;
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while ((await storage.Admin.FetchCountsAsync()).Outgoing > 0)
        {
            if (DateTime.UtcNow > deadline)
            {
                await Console.Error.WriteLineAsync("The outbox still holds events after 2 minutes (is Kafka reachable?); they will be sent on the next start.");
                await host.StopAsync();
                return false;
            }

            await Task.Delay(200); // polling interval: the outbox has no completion signal
        }

        Console.WriteLine($"Replayed {count} order events to Kafka");
        await host.StopAsync();
        return true;
    }
}
