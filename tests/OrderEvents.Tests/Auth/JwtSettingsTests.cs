using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Internal;
using OrderEvents.Infrastructure.Auth;

namespace OrderEvents.Tests.Auth;

/// <summary>Start-up refuses to run Production on a missing or development signing key.</summary>
public sealed class JwtSettingsTests
{
    private static JwtSettings Read(string environment, string? signingKey)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(signingKey is null ? [] : [new("Jwt:SigningKey", signingKey)])
            .Build();
        return JwtSettings.From(configuration, new HostingEnvironment { EnvironmentName = environment });
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData(JwtSettings.DevelopmentSigningKey)]
    public void production_without_a_real_key_stops_start_up(string? key) =>
        Should.Throw<InvalidOperationException>(() => Read(Environments.Production, key)).Message.ShouldContain("Jwt__SigningKey");

    [Fact]
    public void a_key_shorter_than_256_bits_is_refused_everywhere() =>
        Should.Throw<InvalidOperationException>(() => Read(Environments.Development, "too-short"));

    [Fact]
    public void production_accepts_its_own_key_and_development_falls_back_to_the_development_key()
    {
        Read(Environments.Production, "a-production-secret-of-more-than-32-bytes!").SigningKey.ShouldBe("a-production-secret-of-more-than-32-bytes!");
        Read(Environments.Development, null).SigningKey.ShouldBe(JwtSettings.DevelopmentSigningKey);
    }
}
