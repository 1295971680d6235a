using System.ComponentModel.DataAnnotations;
using Alba;
using JasperFx.CommandLine;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using OrderEvents.Infrastructure.Kafka;
using OrderEvents.Tests.Support;

namespace OrderEvents.Tests.Hardening;

/// <summary>
/// The service runs only on a PostgreSQL and a broker it is given, in every environment; outside Development schemas are
/// not changed at start-up; Kafka tuning is checked.
/// </summary>
public sealed class ProductionDefaultsTests
{
    private const string ProductionKey = "a-production-signing-key-of-at-least-32-bytes!";

    private static Task<IAlbaHost> Start(string environment, params (string Key, string Value)[] settings)
    {
        JasperFxEnvironment.AutoStartHost = true;
        return AlbaHost.For<Program>(builder =>
        {
            builder.UseEnvironment(environment);
            foreach (var (key, value) in settings) builder.UseSetting(key, value);
        });
    }

    [Theory]
    [InlineData("Production")]
    [InlineData("Development")]
    public async Task without_a_database_or_broker_the_service_refuses_to_start_in_any_environment_and_names_the_settings(string environment)
    {
        // The command line refuses before anything is built (PublishedCliTests); a host started otherwise, as here,
        // refuses when it starts, before anything connects.
        var failure = await Should.ThrowAsync<Exception>(() => Start(environment, ("Jwt:SigningKey", ProductionKey)));
        var message = failure.ToString();
        message.ShouldContain("ConnectionStrings__Postgres");
        message.ShouldContain("KAFKA_BROKERS");
        message.ShouldContain("dotnet run --project src/OrderEvents.DevHost");
    }

    [Fact]
    public async Task production_with_a_database_but_no_broker_names_only_the_broker()
    {
        var failure = await Should.ThrowAsync<Exception>(() => Start("Staging",
            ("Jwt:SigningKey", ProductionKey), ("ConnectionStrings:Postgres", "Host=127.0.0.1;Port=1;Database=x")));
        var message = failure.ToString();
        message.ShouldContain("KAFKA_BROKERS");
        message.ShouldNotContain("ConnectionStrings__Postgres (");
    }

    [Fact]
    public async Task production_changes_no_schema_at_start_up()
    {
        var database = await TestPostgres.CreateDatabaseAsync();
        // An empty database is not silently provisioned: start-up stops and says what to run.
        var failure = await Should.ThrowAsync<Exception>(() => Start("Production",
            ("Jwt:SigningKey", ProductionKey), ("ConnectionStrings:Postgres", database), ("KAFKA_ENABLED", "false")));
        failure.ToString().ShouldContain("resources setup");

        ((long)(await Sql.ScalarAsync(database, "select count(*) from information_schema.tables where table_schema = 'orderevents'"))!)
            .ShouldBe(0, "outside Development the schema is applied by `db-apply`, not at start-up");
    }

    [Theory]
    [InlineData("Kafka:FetchWaitMaxMs", "0", "FetchWaitMaxMs")]
    [InlineData("Kafka:SessionTimeoutMs", "999999999", "SessionTimeoutMs")]
    [InlineData("Kafka:HeartbeatIntervalMs", "5000", "HeartbeatIntervalMs")]
    public async Task bad_kafka_tuning_stops_start_up_naming_the_setting(string key, string value, string named)
    {
        var database = await TestPostgres.CreateDatabaseAsync();
        var failure = await Should.ThrowAsync<OptionsValidationException>(() => Start("Development",
            ("Jwt:SigningKey", ProductionKey), ("ConnectionStrings:Postgres", database), ("KAFKA_ENABLED", "false"), (key, value)));
        failure.Message.ShouldContain(named);
    }

    [Theory]
    [InlineData("00:00:00", "Messaging:DatabaseRetry:Delays must be positive durations")]
    [InlineData("-00:00:01", "Messaging:DatabaseRetry:Delays must be positive durations")]
    [InlineData("soon", "Messaging:DatabaseRetry:Delays:1")]
    public async Task a_bad_database_retry_delay_stops_start_up_naming_the_setting(string delay, string expected)
    {
        var database = await TestPostgres.CreateDatabaseAsync();
        var failure = await Should.ThrowAsync<Exception>(() => Start("Development", ("Jwt:SigningKey", ProductionKey),
            ("ConnectionStrings:Postgres", database), ("KAFKA_ENABLED", "false"),
            ("Messaging:DatabaseRetry:Delays:0", "00:00:00.050"), ("Messaging:DatabaseRetry:Delays:1", delay)));
        failure.ToString().ShouldContain(expected);
    }

    [Fact]
    public void development_gets_low_latency_kafka_tuning_and_every_other_environment_production_values()
    {
        KafkaSettings Tuning(string environment) => KafkaSettings.From(new ConfigurationBuilder()
            .SetBasePath(KafkaBrokerCommandTestsPaths.AppOutput)
            .AddJsonFile("appsettings.json")
            .AddJsonFile($"appsettings.{environment}.json", optional: true)
            .Build());

        var development = Tuning("Development");
        (development.FetchWaitMaxMs, development.SessionTimeoutMs, development.HeartbeatIntervalMs).ShouldBe((10, 2000, 500)); // a 2 s session: the dead member of a development run leaves its partitions fast (docs/architecture.md)
        var production = Tuning("Production");
        (production.FetchWaitMaxMs, production.SessionTimeoutMs, production.HeartbeatIntervalMs).ShouldBe((500, 45000, 3000));
        Validator.TryValidateObject(production, new ValidationContext(production), null, validateAllProperties: true).ShouldBeTrue();
        Validator.TryValidateObject(development, new ValidationContext(development), null, validateAllProperties: true).ShouldBeTrue();
    }
}

internal static class KafkaBrokerCommandTestsPaths
{
    public static string AppOutput => Path.GetDirectoryName(BuiltApp.AssemblyPath)!;
}
