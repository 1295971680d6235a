using System.Net;
using Alba;
using OrderEvents.Features.Auth;
using OrderEvents.Tests.Support;

namespace OrderEvents.Tests.Auth;

[Collection(AppCollection.Name)]
public sealed class AuthTests(AppFixture fixture) : IntegrationContext(fixture)
{
    [Fact]
    public async Task register_returns_the_new_user_and_login_returns_a_bearer_token_that_works()
    {
        var registered = await Host.Scenario(s =>
        {
            s.Post.Json(new RegisterRequest("  Alice@Example.COM ", "s3cret-password")).ToUrl("/api/auth/register");
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        var user = await registered.Json();
        user.GetProperty("id").GetInt64().ShouldBeGreaterThan(0);
        user.GetProperty("email").GetString().ShouldBe("alice@example.com");

        var login = await Host.Scenario(s =>
        {
            s.Post.Json(new LoginRequest("alice@example.com", "s3cret-password")).ToUrl("/api/auth/login");
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        var token = await login.Json();
        token.GetProperty("tokenType").GetString().ShouldBe("Bearer");
        token.GetProperty("expiresIn").GetInt32().ShouldBe(3600);
        var accessToken = token.GetProperty("accessToken").GetString()!;

        var me = await Host.Scenario(s =>
        {
            s.Get.Url("/api/auth/me");
            s.WithBearerToken(accessToken);
        });
        var current = await me.Json();
        current.GetProperty("id").GetInt64().ShouldBe(user.GetProperty("id").GetInt64());
        current.GetProperty("role").GetString().ShouldBe("user");
    }

    [Fact]
    public async Task a_taken_email_is_a_409_whatever_its_case()
    {
        await RegisterAndLogin("bob@example.com");
        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new RegisterRequest("BOB@example.com", "another-password")).ToUrl("/api/auth/register");
            s.StatusCodeShouldBe(HttpStatusCode.Conflict);
        });
        (await result.Json()).GetProperty("detail").GetString()!.ShouldContain("bob@example.com");
    }

    [Fact]
    public async Task of_concurrent_registrations_with_one_email_exactly_one_succeeds()
    {
        var results = await Task.WhenAll(Enumerable.Range(0, 5).Select(i => Host.Scenario(s =>
        {
            s.Post.Json(new RegisterRequest("race@example.com", $"password-{i}")).ToUrl("/api/auth/register");
            s.IgnoreStatusCode();
        })));

        results.Count(r => r.Context.Response.StatusCode == 201).ShouldBe(1);
        results.Count(r => r.Context.Response.StatusCode == 409).ShouldBe(4);
    }

    [Theory]
    [InlineData("not-an-email", "long-enough-password", "email")]
    [InlineData("", "long-enough-password", "email")]
    [InlineData("carol@example.com", "short", "password")]
    public async Task a_bad_email_or_a_short_password_is_a_400_naming_the_field(string email, string password, string field)
    {
        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new RegisterRequest(email, password)).ToUrl("/api/auth/register");
            s.StatusCodeShouldBe(HttpStatusCode.BadRequest);
        });
        (await result.Json()).GetProperty("errors").TryGetProperty(field, out _).ShouldBeTrue();
    }

    [Fact]
    public async Task wrong_credentials_are_a_401()
    {
        await RegisterAndLogin("dave@example.com", "the-right-password");
        await Host.Scenario(s =>
        {
            s.Post.Json(new LoginRequest("dave@example.com", "the-wrong-password")).ToUrl("/api/auth/login");
            s.StatusCodeShouldBe(HttpStatusCode.Unauthorized);
        });
        await Host.Scenario(s =>
        {
            s.Post.Json(new LoginRequest("nobody@example.com", "the-right-password")).ToUrl("/api/auth/login");
            s.StatusCodeShouldBe(HttpStatusCode.Unauthorized);
        });
    }

    [Fact]
    public async Task protected_endpoints_need_a_valid_token()
    {
        await Host.Scenario(s =>
        {
            s.Get.Url("/api/orders");
            s.StatusCodeShouldBe(HttpStatusCode.Unauthorized);
        });
        await Host.Scenario(s =>
        {
            s.Get.Url("/api/notifications");
            s.WithBearerToken("not.a.token");
            s.StatusCodeShouldBe(HttpStatusCode.Unauthorized);
        });

        // Signed with another key: the signature check must reject it.
        var user = await RegisterAndLogin();
        var parts = user.Token.Split('.');
        var forged = $"{parts[0]}.{parts[1]}.{new string('A', parts[2].Length)}";
        await Host.Scenario(s =>
        {
            s.Get.Url("/api/orders");
            s.WithBearerToken(forged);
            s.StatusCodeShouldBe(HttpStatusCode.Unauthorized);
        });
    }

    [Fact]
    public async Task admins_named_in_configuration_get_the_admin_role()
    {
        var admin = await LoginAsAdmin();
        var me = await Host.Scenario(s =>
        {
            s.Get.Url("/api/auth/me");
            s.WithBearerToken(admin.Token);
        });
        (await me.Json()).GetProperty("role").GetString().ShouldBe("admin");
    }
}
