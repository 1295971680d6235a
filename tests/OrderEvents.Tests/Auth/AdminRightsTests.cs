using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Alba;
using JasperFx.CommandLine;
using Marten;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OrderEvents.Features.Auth;
using OrderEvents.Features.Products;
using OrderEvents.Infrastructure.Auth;
using OrderEvents.Tests.Support;
using Wolverine;
using Xunit.Abstractions;

namespace OrderEvents.Tests.Auth;

/// <summary>
/// The app in Production on a database prepared by `db-apply` (as Production requires), with an admin address listed in
/// Auth__AdminEmails: a listed address must grant nothing there.
/// </summary>
public sealed class ProductionAuthApp : IAsyncLifetime
{
    public const string ListedEmail = "boss@tests.local";

    private IAlbaHost? _host;

    public IAlbaHost Host => _host ?? throw new InvalidOperationException("The host is not started");

    public string ConnectionString { get; private set; } = "";

    public CapturedLogs Logs { get; } = new();

    public async Task InitializeAsync()
    {
        ConnectionString = await TestPostgres.CreateDatabaseAsync();
        await using (var apply = AppProcess.Start(["db-apply"], new Dictionary<string, string?>
                     {
                         ["ASPNETCORE_ENVIRONMENT"] = "Production",
                         ["ConnectionStrings__Postgres"] = ConnectionString,
                     }, "db-apply", assembly: BuiltApp.AssemblyPath))
            (await apply.WaitForExitAsync(TimeSpan.FromMinutes(2))).ShouldBe(0, apply.Output);

        JasperFxEnvironment.AutoStartHost = true;
        _host = await AlbaHost.For<Program>(builder =>
        {
            builder.UseEnvironment("Production");
            builder.UseSetting("ConnectionStrings:Postgres", ConnectionString);
            builder.UseSetting("Jwt:SigningKey", "a-production-signing-key-of-at-least-32-bytes!");
            builder.UseSetting("KAFKA_ENABLED", "false");
            builder.UseSetting("Notifications:MigrateOnStartup", "true");
            builder.UseSetting("Auth:AdminEmails", ListedEmail);
            builder.UseSetting("RateLimits:Auth:PermitsPerAddress", "100000");
            builder.UseSetting("RateLimits:Auth:PermitsPerEmail", "100000");
            builder.ConfigureServices(services =>
            {
                services.RunWolverineInSoloMode();
                services.AddSingleton<ILoggerProvider>(Logs);
            });
        });
    }

    public async Task DisposeAsync()
    {
        if (_host is null) return;
        await _host.StopAsync();
        await _host.DisposeAsync();
    }
}

/// <summary>
/// Admin rights come from an operator's action (`admin-grant` / `admin-revoke`, run as the built app), never from
/// registering an address; only Development honours Auth__AdminEmails (AuthTests covers that convenience).
/// </summary>
public sealed class AdminRightsTests(ProductionAuthApp app, ITestOutputHelper output) : IClassFixture<ProductionAuthApp>
{
    private const string Password = "correct-horse-battery";

    [Theory]
    [InlineData(ProductionAuthApp.ListedEmail)] // listed in Auth__AdminEmails
    [InlineData("admin@example.com")] // the well-known address (Development's default, docker-compose's before)
    public async Task in_production_registering_a_listed_or_well_known_address_gives_no_admin_role(string email)
    {
        await Register(email);
        var token = await Login(email);

        (await RoleIn(token)).ShouldBe(AuthSetup.UserRole);
        await CreateProduct(token, HttpStatusCode.Forbidden);
        await app.Host.Scenario(s =>
        {
            s.Patch.Json(new { price = 1 }).ToUrl("/api/products/1");
            s.WithBearerToken(token);
            s.StatusCodeShouldBe(HttpStatusCode.Forbidden);
        });

        // The operator who set the list learns at start-up that it grants nothing here, and what does.
        app.Logs.All.ShouldContain(entry => entry.Level == LogLevel.Warning && entry.Message.Contains("Auth__AdminEmails is ignored in the Production environment")
                                            && entry.Message.Contains("admin-grant --email"));
    }

    [Fact]
    public async Task admin_grant_makes_an_existing_user_admin_at_their_next_login_and_admin_revoke_takes_it_back()
    {
        var email = $"carol-{Guid.NewGuid():N}@tests.local";
        await Register(email);
        var before = await Login(email);
        await CreateProduct(before, HttpStatusCode.Forbidden);

        // Beside a running service, with its whole environment: its port taken, its broker named. Building the host
        // for its services must not bind the port (that would fail here) nor need the broker.
        using var servicePort = new TcpListener(IPAddress.Loopback, 0);
        servicePort.Start();
        var grant = await RunAsync(["admin-grant", "--email", email.ToUpperInvariant()], new Dictionary<string, string?>
        {
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{((IPEndPoint)servicePort.LocalEndpoint).Port}",
            ["KAFKA_BROKERS"] = $"127.0.0.1:{AppProcess.FreePort()}", // nothing there
            ["Jwt__SigningKey"] = "a-production-signing-key-of-at-least-32-bytes!",
        });
        grant.ExitCode.ShouldBe(0, grant.Output);
        grant.Output.ShouldContain($"{email} (user ");
        grant.Output.ShouldContain("is now an admin");
        grant.Output.ShouldContain("next login");
        grant.ListeningPorts.ShouldBeEmpty();

        // A token issued before keeps its role until it expires; the next login carries the new one.
        await CreateProduct(before, HttpStatusCode.Forbidden);
        var admin = await Login(email);
        (await RoleIn(admin)).ShouldBe(AuthSetup.AdminRole);
        await CreateProduct(admin, HttpStatusCode.Created);

        var again = await RunAsync(["admin-grant", "--email", email]);
        again.ExitCode.ShouldBe(0, again.Output);
        again.Output.ShouldContain("is already an admin");

        var revoke = await RunAsync(["admin-revoke", "--email", email]);
        revoke.ExitCode.ShouldBe(0, revoke.Output);
        revoke.Output.ShouldContain("is now a plain user");
        revoke.Output.ShouldContain("next login");
        var demoted = await Login(email);
        (await RoleIn(demoted)).ShouldBe(AuthSetup.UserRole);
        await CreateProduct(demoted, HttpStatusCode.Forbidden);
    }

    [Theory]
    [InlineData("admin-grant")]
    [InlineData("admin-revoke")]
    public async Task an_unknown_email_is_a_clear_error_with_a_non_zero_exit_and_changes_nothing(string command)
    {
        var admins = await AdminCount();
        var unknown = $"nobody-{Guid.NewGuid():N}@tests.local";

        var result = await RunAsync([command, "--email", unknown]);
        result.ExitCode.ShouldNotBe(0, result.Output);
        result.Errors.ShouldContain($"No user is registered with the e-mail '{unknown}'; nothing changed. The user registers first (POST /api/auth/register).");
        result.Output.ShouldNotContain("   at "); // a message, not a stack trace

        var withoutEmail = await RunAsync([command]);
        withoutEmail.ExitCode.ShouldNotBe(0, withoutEmail.Output);
        withoutEmail.Errors.ShouldContain("Say whose role to change: --email <the address the user registered with>.");

        (await AdminCount()).ShouldBe(admins);
    }

    [Fact]
    public void docker_compose_ships_no_claimable_admin_and_says_how_to_grant_one()
    {
        var compose = File.ReadAllText(Path.Combine(BuiltApp.RepositoryRoot, "docker-compose.yml"));
        Regex.IsMatch(compose, @"^\s*Auth__AdminEmails\s*:", RegexOptions.Multiline).ShouldBeFalse("no service may list admin e-mails");
        compose.ShouldContain("admin-grant --email");
    }

    private sealed record CommandResult(int ExitCode, string Output, string Errors, IReadOnlyCollection<int> ListeningPorts);

    /// <summary>The built service's command line (as the container runs it) in Production, with only the database unless told more.</summary>
    private async Task<CommandResult> RunAsync(string[] arguments, Dictionary<string, string?>? settings = null)
    {
        var environment = new Dictionary<string, string?>(settings ?? new Dictionary<string, string?>())
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["ConnectionStrings__Postgres"] = app.ConnectionString,
        };
        await using var command = AppProcess.Start(arguments, environment, arguments[0], output, BuiltApp.AssemblyPath);
        var exitCode = await command.WaitForExitAsync(TimeSpan.FromMinutes(1));
        return new CommandResult(exitCode, command.Output, string.Join('\n', command.Errors), command.ListeningPortsSeen);
    }

    private async Task<int> AdminCount()
    {
        await using var session = app.Host.Services.GetRequiredService<IDocumentStore>().QuerySession();
        return await session.Query<User>().CountAsync(user => user.IsAdmin);
    }

    private Task Register(string email) => app.Host.Scenario(s =>
    {
        s.Post.Json(new RegisterRequest(email, Password)).ToUrl("/api/auth/register");
        s.StatusCodeShouldBe(HttpStatusCode.Created);
    });

    private async Task<string> Login(string email)
    {
        var login = await app.Host.Scenario(s =>
        {
            s.Post.Json(new LoginRequest(email, Password)).ToUrl("/api/auth/login");
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        return (await login.ReadAsJsonAsync<TokenResponse>())!.AccessToken;
    }

    private async Task<string?> RoleIn(string token)
    {
        var me = await app.Host.Scenario(s =>
        {
            s.Get.Url("/api/auth/me");
            s.WithBearerToken(token);
        });
        return (await me.Json()).GetProperty("role").GetString();
    }

    private Task CreateProduct(string token, HttpStatusCode expected) => app.Host.Scenario(s =>
    {
        s.Post.Json(new CreateProductRequest($"Lamp {Guid.NewGuid():N}"[..20], 10m, null)).ToUrl("/api/products");
        s.WithBearerToken(token);
        s.StatusCodeShouldBe(expected);
    });
}
