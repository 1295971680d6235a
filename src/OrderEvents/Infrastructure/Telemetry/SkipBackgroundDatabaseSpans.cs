using System.Diagnostics;
using OpenTelemetry.Trace;

namespace OrderEvents.Infrastructure.Telemetry;

/// <summary>
/// Root sampler: a database call that is not part of a request or a message (Wolverine's outbox polling, node
/// health checks, Marten's daemon: several a second) would each be a trace of its own, drowning the real ones. Those
/// root client spans are dropped; everything else is sampled, and children follow their parent (ParentBasedSampler).
/// </summary>
public sealed class SkipBackgroundDatabaseSpans : Sampler
{
    public override SamplingResult ShouldSample(in SamplingParameters samplingParameters) =>
        samplingParameters.Kind == ActivityKind.Client
            ? new SamplingResult(SamplingDecision.Drop)
            : new SamplingResult(SamplingDecision.RecordAndSample);
}
