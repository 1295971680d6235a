using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using OrderEvents.DevHost.Embedded;
using OrderEvents.Infrastructure.Http;
using Wolverine.Http;

namespace OrderEvents.DevHost.Flow;

public sealed record BrokerOutageRequest(int Seconds);

public sealed class BrokerOutageRequestValidator : AbstractValidator<BrokerOutageRequest>
{
    public const int MaxSeconds = 60;

    public BrokerOutageRequestValidator() => RuleFor(x => x.Seconds).InclusiveBetween(1, MaxSeconds);
}

public sealed record BrokerOutageResponse(DateTimeOffset UpAt);

/// <summary>
/// Takes the embedded broker down for a while, on purpose: orders are still answered at once, their events wait in
/// the outbox, and when the broker is back the outbox drains and every notification arrives. Exists only where the
/// fault buttons can work (the embedded broker runs in this process).
/// </summary>
public sealed class BrokerOutage : IDisposable
{
    private readonly EmbeddedKafkaBroker _broker;
    private readonly TimeProvider _clock;
    private readonly ILogger<BrokerOutage> _logger;
    private readonly Lock _gate = new();
    private readonly CancellationTokenRegistration _onStopping;
    private ITimer? _bringUp;

    public BrokerOutage(EmbeddedKafkaBroker broker, TimeProvider clock, IHostApplicationLifetime lifetime, ILogger<BrokerOutage> logger)
    {
        _broker = broker;
        _clock = clock;
        _logger = logger;
        // A broker left down would hold up the shutdown (Wolverine flushes its senders on stop).
        _onStopping = lifetime.ApplicationStopping.Register(End);
    }

    /// <summary>When the broker comes back, while it is down on purpose; else null.</summary>
    public DateTimeOffset? UpAt { get; private set; }

    /// <summary>Takes the broker down until <paramref name="duration"/> has passed; false when an outage is already running.</summary>
    public bool TryStart(TimeSpan duration, out DateTimeOffset upAt)
    {
        lock (_gate)
        {
            if (UpAt is { } running)
            {
                upAt = running;
                return false;
            }

            upAt = _clock.GetUtcNow() + duration;
            UpAt = upAt;
            _broker.TakeDown();
            _logger.LogWarning("Flow page: the embedded Kafka broker is down on purpose for {Seconds} s", duration.TotalSeconds);
            ITimer? timer = null;
            timer = _bringUp = _clock.CreateTimer(_ => End(timer), null, duration, Timeout.InfiniteTimeSpan);
            return true;
        }
    }

    /// <summary>Brings the broker back now (nothing to do when it is up).</summary>
    public void End() => End(null);

    /// <summary>Ends the outage whose timer fired (any outage when null): a late timer never ends a newer outage.</summary>
    private void End(ITimer? firedTimer)
    {
        lock (_gate)
        {
            if (UpAt is null || (firedTimer is not null && firedTimer != _bringUp)) return;
            _bringUp?.Dispose();
            _bringUp = null;
            UpAt = null;
            _broker.BringUp();
            _logger.LogWarning("Flow page: the embedded Kafka broker is up again");
        }
    }

    public void Dispose()
    {
        _onStopping.Dispose();
        End();
    }
}

public static class BrokerOutageEndpoint
{
    /// <summary>POST /flow/faults/broker-outage {"seconds": 1-60} (admin): 202 with the time the broker comes back.</summary>
    public static Results<Accepted<BrokerOutageResponse>, ProblemHttpResult> Start(
        BrokerOutageRequest request, IValidator<BrokerOutageRequest> validator, IServiceProvider services)
    {
        if (validator.Check(request) is var invalid && invalid != WolverineContinue.NoProblems) return TypedResults.Problem(invalid);
        if (services.GetService<BrokerOutage>() is not { } outage) return Unavailable(services);
        return outage.TryStart(TimeSpan.FromSeconds(request.Seconds), out var upAt)
            ? TypedResults.Accepted((string?)null, new BrokerOutageResponse(upAt))
            : TypedResults.Problem(Validation.Conflict($"The broker is already down, until {upAt:O}."));
    }

    /// <summary>DELETE /flow/faults/broker-outage (admin): the broker back now; 204 whether or not it was down.</summary>
    public static Results<NoContent, ProblemHttpResult> End(IServiceProvider services)
    {
        if (services.GetService<BrokerOutage>() is not { } outage) return Unavailable(services);
        outage.End();
        return TypedResults.NoContent();
    }

    /// <summary>409 saying why the fault buttons cannot work in this app (a real broker, Kafka disabled).</summary>
    public static ProblemHttpResult Unavailable(IServiceProvider services) =>
        TypedResults.Problem(Validation.Conflict(FlowPage.WhyFaultButtonsCannotWork(services) ?? "The embedded broker is not available."));
}
