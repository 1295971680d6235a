using System.Net;
using Alba;
using Microsoft.AspNetCore.Hosting;
using OrderEvents.Tests.Support;

namespace OrderEvents.Tests.Hardening;

/// <summary>The app with tight sign-in limits (the shared fixture's are generous): 4 per address, 3 per email, per minute.</summary>
public sealed class RateLimitedAppFixture : AppFixture
{
    protected override bool KafkaEnabled => false;

    protected override void Configure(IWebHostBuilder builder)
    {
        builder.UseSetting("RateLimits:Auth:PermitsPerAddress", "4");
        builder.UseSetting("RateLimits:Auth:PermitsPerEmail", "3");
        builder.UseSetting("RateLimits:Auth:Window", "00:01:00");
    }
}

public sealed class RateLimitTests(RateLimitedAppFixture fixture) : IClassFixture<RateLimitedAppFixture>
{
    private static IPAddress NewAddress() => new(Random.Shared.Next(0x0A000001, 0x0AFFFFFE));

    private Task<IScenarioResult> Login(IPAddress address, string email) => fixture.Host.Scenario(s =>
    {
        s.ConfigureHttpContext(context => context.Connection.RemoteIpAddress = address);
        s.Post.Json(new { email, password = "wrong-password" }).ToUrl("/api/auth/login");
        s.IgnoreStatusCode();
    });

    private static async Task ShouldBeRateLimited(IScenarioResult result)
    {
        result.Context.Response.StatusCode.ShouldBe(429);
        result.Context.Response.ContentType!.ShouldStartWith("application/problem+json");
        int.Parse(result.Context.Response.Headers.RetryAfter.ToString()).ShouldBeInRange(1, 60);
        (await result.ReadAsTextAsync()).ShouldContain("Too many");
    }

    [Fact]
    public async Task one_address_gets_429_with_retry_after_past_its_limit_while_other_addresses_go_on()
    {
        var address = NewAddress();
        for (var i = 0; i < 4; i++)
            (await Login(address, $"a{i}-{Guid.NewGuid():N}@example.com")).Context.Response.StatusCode.ShouldBe(401);

        await ShouldBeRateLimited(await Login(address, $"fresh-{Guid.NewGuid():N}@example.com"));
        // Registering counts against the same address.
        var register = await fixture.Host.Scenario(s =>
        {
            s.ConfigureHttpContext(context => context.Connection.RemoteIpAddress = address);
            s.Post.Json(new { email = $"r-{Guid.NewGuid():N}@example.com", password = "long-enough-password" }).ToUrl("/api/auth/register");
            s.IgnoreStatusCode();
        });
        await ShouldBeRateLimited(register);

        (await Login(NewAddress(), $"other-{Guid.NewGuid():N}@example.com")).Context.Response.StatusCode.ShouldBe(401);
    }

    [Fact]
    public async Task one_email_gets_429_past_its_limit_from_any_address()
    {
        var email = $"target-{Guid.NewGuid():N}@example.com";
        for (var i = 0; i < 3; i++)
            (await Login(NewAddress(), email)).Context.Response.StatusCode.ShouldBe(401);

        await ShouldBeRateLimited(await Login(NewAddress(), email.ToUpperInvariant()));
        (await Login(NewAddress(), $"other-{Guid.NewGuid():N}@example.com")).Context.Response.StatusCode.ShouldBe(401);
    }

    [Fact]
    public async Task other_endpoints_are_not_limited()
    {
        var address = NewAddress();
        for (var i = 0; i < 10; i++)
            await fixture.Host.Scenario(s =>
            {
                s.ConfigureHttpContext(context => context.Connection.RemoteIpAddress = address);
                s.Get.Url("/api/products");
                s.StatusCodeShouldBe(200);
            });
    }
}
