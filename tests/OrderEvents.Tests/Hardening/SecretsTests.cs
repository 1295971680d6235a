using OrderEvents.Tests.Infrastructure;
using OrderEvents.Tests.Support;

namespace OrderEvents.Tests.Hardening;

/// <summary>The signing key and database passwords never appear in `describe`, in logs, or in error bodies.</summary>
[Collection(AppCollection.Name)]
public sealed class SecretsTests(AppFixture fixture) : IntegrationContext(fixture)
{
    [Fact]
    public async Task describe_masks_the_signing_key_and_every_password()
    {
        var signingKey = "describe-signing-key-" + Guid.NewGuid().ToString("N");
        var databasePassword = "describe-db-password-" + Guid.NewGuid().ToString("N")[..10];
        var otherPassword = "describe-other-password-" + Guid.NewGuid().ToString("N")[..10];

        await using var describe = AppProcess.Start(["describe"], new Dictionary<string, string?>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["Jwt__SigningKey"] = signingKey,
            ["ConnectionStrings__Postgres"] = $"Host=127.0.0.1;Port=1;Database=orderevents;Username=app;Password={databasePassword}",
            ["POSTGRES_PASSWORD"] = otherPassword,
            ["KAFKA_ENABLED"] = "false",
            ["COLUMNS"] = "400", // one line per value: a wrapped secret could hide from a plain search
        }, assembly: BuiltApp.AssemblyPath);
        var exitCode = await describe.WaitForExitAsync(TimeSpan.FromSeconds(120));
        var output = describe.Output;

        exitCode.ShouldBe(0, output);
        output.ShouldContain("IConfiguration Preview");
        output.ShouldContain("SigningKey");
        output.ShouldContain("*****");
        var unwrapped = string.Concat(output.Where(c => !char.IsWhiteSpace(c) && c is not '│' and not '├' and not '└' and not '─'));
        foreach (var secret in new[] { signingKey, databasePassword, otherPassword })
        {
            output.ShouldNotContain(secret);
            // The preview wraps long values over several lines: look at them whole as well (prefix of each secret).
            unwrapped.ShouldNotContain(secret[..16]);
        }
    }

    [Fact]
    public async Task logs_and_error_bodies_never_show_the_signing_key_or_the_database_password()
    {
        // Some traffic, including failures, after a start-up whose logs are all captured.
        var user = await RegisterAndLogin();
        await Host.Scenario(s => { s.Post.Json(new { email = user.Email, password = "wrong-password" }).ToUrl("/api/auth/login"); s.StatusCodeShouldBe(401); });
        var bad = await Host.Scenario(s => { s.Get.Url("/api/orders"); s.WithBearerToken(user.Token + "x"); s.StatusCodeShouldBe(401); });
        (await bad.ReadAsTextAsync()).ShouldNotContain(Fixture.SigningKey);

        var logs = Fixture.Logs.All;
        logs.ShouldNotBeEmpty();
        foreach (var entry in logs)
        {
            var text = entry.Message + entry.Exception;
            text.ShouldNotContain(Fixture.SigningKey, customMessage: entry.Category);
            text.ShouldNotContain(Fixture.DatabasePassword, customMessage: entry.Category);
        }
    }
}
