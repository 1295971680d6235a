using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using System.Net;
using System.Net.Http.Json;
using Alba;
using JasperFx.Core;
using Marten;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OrderEvents.Features.Auth;
using OrderEvents.Features.Notifications;
using OrderEvents.Infrastructure.Kafka;
using OrderEvents.Features.Orders;
using OrderEvents.Infrastructure.Http;
using OrderEvents.Tests.Orders;
using Wolverine.Tracking;

namespace OrderEvents.Tests.Support;

/// <summary>Base class of the scenario tests: a clean database (seeded catalog) before every test, and helpers.</summary>
public abstract class IntegrationContext(AppFixture fixture) : IAsyncLifetime
{
    // Generous: on a 2-core CI machine a partition can stall for up to the listener's ~1 minute in-place retry budget.
    protected static readonly TimeSpan TrackingTimeout = 90.Seconds();

    protected AppFixture Fixture { get; } = fixture;

    protected IAlbaHost Host => Fixture.Host;

    protected IDocumentStore Store => Fixture.Store;

    public virtual async Task InitializeAsync()
    {
        // Every test starts on a flowing pipeline: an earlier test of the collection may have stopped the listener or
        // the broker, and a rejoining consumer takes seconds (this costs one record when all is well).
        if (!string.IsNullOrEmpty(Fixture.BootstrapServers)) await PipelineFlowsAgain();
        await Host.ResetAllMartenDataAsync();
        await Sql.ExecuteAsync(Fixture.ConnectionString, "truncate notifications.notifications");
    }

    /// <summary>A query against the notifications context (EF Core), in its own scope.</summary>
    protected async Task<T> Notifications<T>(Func<IQueryable<Notification>, Task<T>> query)
    {
        await using var scope = Host.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<NotificationsDbContext>();
        return await query(db.Notifications.AsNoTracking());
    }

    /// <summary>
    /// After a test took the broker or the listener away: a fresh event must become a notification again, by itself,
    /// so the collection's later tests start with a flowing pipeline (a rejoining consumer can take seconds).
    /// </summary>
    protected async Task PipelineFlowsAgain()
    {
        var eventId = Guid.NewGuid();
        var record = $$"""{"eventId":"{{eventId}}","eventType":"ORDER_CREATED","timestamp":"2025-01-30T10:15:30.123Z","orderId":424242,"userId":424242,"totalAmount":1}""";
        await Host.TrackActivity().IncludeExternalTransports().Timeout(90.Seconds()).DoNotAssertOnExceptionsDetected()
            .WaitForCondition(new HandledEvents([eventId]))
            .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(_ =>
                new KafkaProbe(Fixture.BootstrapServers).ProduceAsync(KafkaSettings.OrderEventsTopic, "424242", record)));
        (await FindNotification(eventId)).ShouldNotBeNull();
    }

    /// <summary>
    /// Records the durable inbox already holds (same envelope id) are dropped there, before any handler, and leave no
    /// trace in a tracked session. To know the listener has passed them, this produces one fresh event behind them on
    /// each of their keys (so on their partitions) and waits until those are stored: the listener takes a partition's
    /// records in offset order. The fresh events belong to user 424242, which no test user is.
    /// </summary>
    protected async Task ListenerPassed(IEnumerable<string> keys)
    {
        var sentinels = keys.Distinct().Select(key => (Key: key, EventId: Guid.NewGuid())).ToList();
        await Host.TrackActivity().IncludeExternalTransports().Timeout(TrackingTimeout).DoNotAssertOnExceptionsDetected()
            .WaitForCondition(new HandledEvents(sentinels.Select(s => s.EventId)))
            .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(async _ =>
            {
                var kafka = new KafkaProbe(Fixture.BootstrapServers);
                foreach (var (key, eventId) in sentinels)
                    await kafka.ProduceAsync(KafkaSettings.OrderEventsTopic, key,
                        $$"""{"eventId":"{{eventId}}","eventType":"ORDER_CREATED","timestamp":"2025-01-30T10:15:30.123Z","orderId":{{(long.TryParse(key, out var id) && id > 0 ? id : 424242)}},"userId":424242,"totalAmount":1}""");
            }));
    }

    private sealed class HandledEvents(IEnumerable<Guid> eventIds) : ITrackedCondition
    {
        private readonly ConcurrentDictionary<Guid, bool> _pending = new(eventIds.Select(id => KeyValuePair.Create(id, true)));

        public void Record(EnvelopeRecord record)
        {
            foreach (var stored in NotificationBatches.Stored(record)) _pending.TryRemove(stored.EventId, out _);
        }

        public bool IsCompleted() => _pending.IsEmpty;
    }

    protected Task<Notification?> FindNotification(Guid eventId) =>
        Notifications(all => EntityFrameworkQueryableExtensions.FirstOrDefaultAsync(all, n => n.Id == eventId));

    public virtual Task DisposeAsync() => Task.CompletedTask;

    /// <summary>Runs an HTTP scenario and waits until every message it caused (through Kafka too) was handled.</summary>
    protected async Task<(ITrackedSession Tracked, IScenarioResult Result)> TrackedHttpCall(Action<Scenario> configure)
    {
        IScenarioResult result = null!;
        var tracked = await Host.TrackActivity()
            .IncludeExternalTransports()
            .Timeout(TrackingTimeout)
            .WaitForNotificationBatches()
            .ExecuteAndWaitAsync((Func<Wolverine.IMessageContext, Task>)(async _ => result = await Host.Scenario(configure)));
        return (tracked, result);
    }

    /// <summary>
    /// A new user places an order, tracked until its notification batch ran: the order's id, when it started, and the
    /// POST's server span (the root of the order's trace).
    /// </summary>
    protected async Task<(long OrderId, DateTime Since, Activity Request)> PlaceTracedOrder()
    {
        var user = await RegisterAndLogin();
        var since = DateTime.UtcNow;
        var (_, result) = await TrackedHttpCall(s =>
        {
            s.PlaceOrder(user, OrderScenarios.Items((1, 1)));
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        var orderId = (await result.Json()).GetProperty("id").GetInt64();
        var request = Fixture.Telemetry.Spans.SingleSpan(span =>
            span.StartTimeUtc >= since && span.Kind == ActivityKind.Server && Equals(span.GetTagItem("order.id"), orderId), "the POST /api/orders span");
        return (orderId, since, request);
    }

    protected async Task<TestUser> RegisterAndLogin(string? email = null, string password = "correct-horse-battery")
    {
        email ??= $"user-{Guid.NewGuid():N}@tests.local";
        var registered = await Host.Scenario(s =>
        {
            s.Post.Json(new RegisterRequest(email, password)).ToUrl("/api/auth/register");
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        var user = await registered.ReadAsJsonAsync<RegisteredUser>();
        var login = await Host.Scenario(s =>
        {
            s.Post.Json(new LoginRequest(email, password)).ToUrl("/api/auth/login");
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        var token = await login.ReadAsJsonAsync<TokenResponse>();
        return new TestUser(user!.Id, email, token!.AccessToken);
    }

    protected Task<TestUser> LoginAsAdmin() => RegisterAndLogin(AppFixture.AdminEmail);

    protected async Task<IReadOnlyList<NotificationResponse>> NotificationsOf(TestUser user)
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/notifications?pageSize=100");
            s.WithBearerToken(user.Token);
        });
        return (await result.ReadAsJsonAsync<Page<NotificationResponse>>())!.Items;
    }
}

public sealed record TestUser(long Id, string Email, string Token);

public static class ScenarioResultExtensions
{
    /// <summary>The response body as JSON, to check the wire shape rather than a C# type's view of it.</summary>
    public static async Task<JsonElement> Json(this IScenarioResult result) =>
        JsonDocument.Parse(await result.ReadAsTextAsync()).RootElement.Clone();
}
