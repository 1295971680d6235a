using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OrderEvents.DevHost;
using OrderEvents.Infrastructure.Auth;

namespace OrderEvents.Tests.Auth;

/// <summary>
/// The service refuses to sign tokens with a missing or short key, in every environment; the development host brings
/// its public development key, in Development only.
/// </summary>
public sealed class JwtSettingsTests
{
    private static string? ProblemWith(string? signingKey)
    {
        var settings = new JwtSettings { SigningKey = signingKey ?? "" };
        var problems = new List<ValidationResult>();
        return Validator.TryValidateObject(settings, new ValidationContext(settings), problems, validateAllProperties: true)
            ? null
            : string.Join("; ", problems.Select(problem => problem.ErrorMessage));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("too-short")]
    [InlineData("0123456789012345678901234567890")] // 31 bytes
    public void an_unusable_key_stops_start_up_with_a_message_naming_the_setting(string? key) =>
        ProblemWith(key).ShouldNotBeNull().ShouldContain("Jwt__SigningKey");

    [Theory]
    [InlineData("a-production-secret-of-more-than-32-bytes!")]
    [InlineData("01234567890123456789012345678901")] // 32 bytes
    public void a_key_of_32_bytes_or_more_starts(string key) =>
        ProblemWith(key).ShouldBeNull();

    [Theory]
    [InlineData("Production")]
    [InlineData("Development")]
    public async Task the_service_itself_refuses_to_start_without_a_key_in_any_environment(string environment)
    {
        var builder = Microsoft.AspNetCore.Builder.WebApplication.CreateBuilder(new Microsoft.AspNetCore.Builder.WebApplicationOptions
        {
            EnvironmentName = environment,
        });
        // AddAuth alone, without the store its user check needs: Development's build-time container check is off here.
        builder.Host.UseDefaultServiceProvider(options => options.ValidateOnBuild = false);
        builder.AddAuth();
        await using var app = builder.Build();

        var failure = await Should.ThrowAsync<OptionsValidationException>(() => app.StartAsync());
        failure.Message.ShouldContain("Jwt__SigningKey must be set");
    }

    [Theory]
    [InlineData("Development", DevelopmentDefaults.DevelopmentSigningKey)]
    [InlineData("Staging", null)]
    public void the_development_host_brings_its_public_key_in_development_only(string environment, string? expected)
    {
        var builder = Microsoft.AspNetCore.Builder.WebApplication.CreateBuilder(new Microsoft.AspNetCore.Builder.WebApplicationOptions
        {
            EnvironmentName = environment,
        });
        builder.AddDevelopmentDefaults([]);
        builder.Configuration["Jwt:SigningKey"].ShouldBe(expected);
    }
}
