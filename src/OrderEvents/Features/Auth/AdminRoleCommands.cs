using JasperFx.CommandLine;
using Marten;
using Npgsql;
using OrderEvents.Infrastructure.Postgres;

namespace OrderEvents.Features.Auth;

public class AdminRoleInput : NetCoreInput
{
    [Description("The e-mail address the user registered with")]
    [FlagAlias("email", longAliasOnly: true)] // -e is the environment
    public string? EmailFlag { get; set; }
}

/// <summary>
/// `dotnet OrderEvents.dll admin-grant --email X`: the only way to the admin role outside Development (registering an
/// address proves nothing about owning it). Needs only the database: the host is built for its services, never started,
/// so nothing listens, no Kafka client joins the group, and it runs beside the live service with its environment.
/// </summary>
[Description("Gives a registered user the admin role (from their next login)", Name = "admin-grant")]
public class AdminGrantCommand : JasperFxAsyncCommand<AdminRoleInput>
{
    public AdminGrantCommand()
    {
        Usage("Make this user an admin");
    }

    public override Task<bool> Execute(AdminRoleInput input) => AdminRole.SetAsync(input, admin: true);
}

[Description("Takes the admin role from a user (from their next login)", Name = "admin-revoke")]
public class AdminRevokeCommand : JasperFxAsyncCommand<AdminRoleInput>
{
    public AdminRevokeCommand()
    {
        Usage("Make this admin a plain user");
    }

    public override Task<bool> Execute(AdminRoleInput input) => AdminRole.SetAsync(input, admin: false);
}

public static class AdminRole
{
    public static async Task<bool> SetAsync(AdminRoleInput input, bool admin)
    {
        if (string.IsNullOrWhiteSpace(input.EmailFlag))
        {
            await Console.Error.WriteLineAsync("Say whose role to change: --email <the address the user registered with>.");
            return false;
        }

        var email = User.NormalizeEmail(input.EmailFlag);
        using var host = input.BuildHost();
        await using var session = host.Services.GetRequiredService<IDocumentStore>().LightweightSession();
        User? user;
        try
        {
            user = await session.Query<User>().SingleOrDefaultAsync(u => u.Email == email);
        }
        catch (Exception e) when (e is PostgresException { SqlState: PostgresErrorCodes.UndefinedTable } || e.InnerException is PostgresException { SqlState: PostgresErrorCodes.UndefinedTable })
        {
            await Console.Error.WriteLineAsync("The database has no users table yet: run `db-apply` first (with the same settings).");
            return false;
        }
        catch (Exception e) when (DatabaseOutage.IsOutage(e))
        {
            await Console.Error.WriteLineAsync($"PostgreSQL is unreachable ({e.GetBaseException().Message}); nothing changed.");
            return false;
        }

        if (user is null)
        {
            await Console.Error.WriteLineAsync($"No user is registered with the e-mail '{email}'; nothing changed. The user registers first (POST /api/auth/register).");
            return false;
        }

        var role = admin ? "an admin" : "a plain user (not an admin)";
        if (user.IsAdmin == admin)
        {
            Console.WriteLine($"{email} (user {user.Id}) is already {role}; nothing changed.");
            return true;
        }

        user.IsAdmin = admin;
        session.Update(user);
        await session.SaveChangesAsync();
        Console.WriteLine($"{email} (user {user.Id}) is now {role}. This takes effect at their next login: a token issued " +
                          "before keeps the role it was issued with until it expires (Jwt__TokenLifetime, one hour by default).");
        return true;
    }
}
