using System.Security.Claims;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using OrderEvents.Tests.Support;
using static OrderEvents.Tests.Orders.OrderScenarios;

namespace OrderEvents.Tests.Hardening;

/// <summary>A correctly signed token is still refused (401 ProblemDetails, never 500) unless its subject is an existing user.</summary>
[Collection(AppCollection.Name)]
public sealed class TokenSubjectTests(AppFixture fixture) : IntegrationContext(fixture)
{
    private string Token(params (string Type, object Value)[] claims)
    {
        var now = DateTime.UtcNow;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = "orderevents",
            Audience = "orderevents",
            IssuedAt = now,
            NotBefore = now,
            Expires = now.AddMinutes(5),
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(Fixture.SigningKey)), SecurityAlgorithms.HmacSha256),
            Claims = claims.ToDictionary(c => c.Type, c => c.Value),
        });
    }

    /// <summary>Subjects as JSON strings; "{id}" stands for the id of a user who exists, so a loose parse would find one.</summary>
    public static TheoryData<string, string> Subjects => new()
    {
        { "no sub", "" },
        { "empty", "\"\"" },
        { "text", "\"alice\"" },
        { "zero", "\"0\"" },
        { "negative", "\"-{id}\"" },
        { "beyond long", "\"99999999999999999999\"" },
        { "padded", "\" {id}\"" },
        { "trailing space", "\"{id} \"" },
        { "leading zero", "\"0{id}\"" },
        { "plus sign", "\"+{id}\"" },
        { "no such user", "\"{id}424242\"" },
        { "decimal", "\"{id}.0\"" },
    };

    [Theory]
    [MemberData(nameof(Subjects))]
    public async Task a_signed_token_without_a_usable_subject_or_naming_no_user_is_a_401_problem(string name, string subjectJson)
    {
        // A user who exists, with an admin's role in the token: a subject parsed loosely would name them.
        var existing = await RegisterAndLogin();
        await ShouldBeAccepted(Token(("sub", existing.Id.ToString()), ("email", existing.Email), ("role", "admin")));
        var claims = new List<(string, object)> { ("email", existing.Email), ("role", "admin") };
        if (subjectJson.Length > 0)
            claims.Add(("sub", System.Text.Json.JsonSerializer.Deserialize<string>(subjectJson.Replace("{id}", existing.Id.ToString()))!));
        var token = Token(claims.ToArray());

        foreach (var (method, url) in new[] { ("GET", "/api/auth/me"), ("GET", "/api/orders"), ("GET", "/api/notifications"), ("POST", "/api/orders") })
        {
            var result = await Host.Scenario(s =>
            {
                if (method == "POST") s.Post.Json(Items((1, 1))).ToUrl(url); else s.Get.Url(url);
                s.WithBearerToken(token);
                s.StatusCodeShouldBe(401);
            });
            result.Context.Response.ContentType!.ShouldStartWith("application/problem+json", Case.Sensitive, $"{name}: {method} {url}");
        }

        await ShouldHaveNoOrdersAtAll();
    }

    [Fact]
    public async Task a_signed_token_naming_an_existing_user_is_accepted()
    {
        var user = await RegisterAndLogin();
        var me = await ShouldBeAccepted(Token(("sub", user.Id.ToString()), ("email", user.Email), ("role", "user")));
        me.GetProperty("id").GetInt64().ShouldBe(user.Id);
    }

    private async Task<System.Text.Json.JsonElement> ShouldBeAccepted(string token) => await (await Host.Scenario(s =>
    {
        s.Get.Url("/api/auth/me");
        s.WithBearerToken(token);
        s.StatusCodeShouldBe(200);
    })).Json();

    private async Task ShouldHaveNoOrdersAtAll() =>
        ((long)(await Sql.ScalarAsync(Fixture.ConnectionString, "select count(*) from orderevents.mt_doc_order"))!).ShouldBe(0);
}
