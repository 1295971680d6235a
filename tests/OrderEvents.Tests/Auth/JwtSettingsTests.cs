using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Internal;
using OrderEvents.Infrastructure.Auth;

namespace OrderEvents.Tests.Auth;

/// <summary>Start-up refuses to sign tokens with a missing, public or short key outside Development.</summary>
public sealed class JwtSettingsTests
{
    private static string? ProblemWith(string environmentName, string? signingKey)
    {
        var environment = new HostingEnvironment { EnvironmentName = environmentName };
        var settings = new JwtSettings { SigningKey = signingKey ?? "" };
        settings.ApplyDefaults(environment);
        return new JwtSettingsValidation(environment).Validate(null, settings).FailureMessage;
    }

    [Theory]
    [InlineData("Production", null)]
    [InlineData("Production", JwtSettings.DevelopmentSigningKey)]
    [InlineData("Staging", null)]
    [InlineData("Staging", JwtSettings.DevelopmentSigningKey)]
    [InlineData("Development", "too-short")]
    public void an_unusable_key_stops_start_up_with_a_message_naming_the_setting(string environment, string? key) =>
        ProblemWith(environment, key).ShouldNotBeNull().ShouldContain("Jwt__SigningKey");

    [Theory]
    [InlineData("Production", "a-production-secret-of-more-than-32-bytes!")]
    [InlineData("Development", null)]
    public void a_real_key_or_development_without_one_starts(string environment, string? key) =>
        ProblemWith(environment, key).ShouldBeNull();

    [Fact]
    public async Task the_app_itself_refuses_to_start_in_production_without_a_key()
    {
        var builder = Microsoft.AspNetCore.Builder.WebApplication.CreateBuilder(new Microsoft.AspNetCore.Builder.WebApplicationOptions
        {
            EnvironmentName = Environments.Production,
        });
        builder.AddAuth();
        await using var app = builder.Build();

        var failure = await Should.ThrowAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => app.StartAsync());
        failure.Message.ShouldContain("Jwt__SigningKey must be set");
    }
}
