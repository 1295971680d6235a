using System.Net;
using System.Threading.RateLimiting;
using Alba;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using OrderEvents.Features.Orders;
using OrderEvents.Infrastructure.Http;
using OrderEvents.Tests.Support;
using static OrderEvents.Tests.Orders.OrderScenarios;

namespace OrderEvents.Tests.Hardening;

/// <summary>Past capacity a request waits its turn, holding nothing, then gets a fast 503 instead of hanging.</summary>
[Collection(AppCollection.Name)]
public sealed class AdmissionControlTests(AppFixture fixture) : IntegrationContext(fixture)
{
    [Fact]
    public async Task at_capacity_an_api_request_gets_503_with_retry_after_and_changes_nothing_while_probes_still_answer()
    {
        var user = await RegisterAndLogin();
        var limiter = Host.Services.GetRequiredService<ConcurrencyLimiter>();
        var options = Host.Services.GetRequiredService<AdmissionSettings>();

        // Every permit taken, as if that many requests were running.
        using (var running = limiter.AttemptAcquire(options.MaxConcurrentRequests))
        {
            running.IsAcquired.ShouldBeTrue();
            var busy = await Host.Scenario(s =>
            {
                s.PlaceOrder(user, Items((1, 1)));
                s.StatusCodeShouldBe(HttpStatusCode.ServiceUnavailable);
            });
            busy.Context.Response.Headers.RetryAfter.ToString().ShouldBe("1");
            (await busy.ReadAsJsonAsync<Microsoft.AspNetCore.Mvc.ProblemDetails>())!.Title.ShouldBe("Service busy");
            await Host.Scenario(s => { s.Get.Url("/health/live"); s.StatusCodeShouldBeOk(); });
        }

        await using (var session = Host.Services.GetRequiredService<IDocumentStore>().QuerySession())
            (await session.Query<Order>().CountAsync(order => order.UserId == user.Id)).ShouldBe(0);

        // Capacity back: the same request goes through.
        await Host.Scenario(s =>
        {
            s.PlaceOrder(user, Items((1, 1)));
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
    }
}
