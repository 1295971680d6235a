using JasperFx.CommandLine;
using Marten;

namespace OrderEvents.Features.Auth;

public class AdminRoleInput : NetCoreInput
{
    [Description("The e-mail address the user registered with")]
    [FlagAlias("email", longAliasOnly: true)] // -e is the environment
    public string? EmailFlag { get; set; }
}

/// <summary>
/// `admin-grant` / `admin-revoke --email X`: the only way to the admin role outside Development (registering an address
/// proves nothing about owning it). The host is built for its database, never started: it runs beside the live service.
/// </summary>
public abstract class AdminRoleCommand : JasperFxAsyncCommand<AdminRoleInput>
{
    private readonly bool _admin;

    protected AdminRoleCommand(bool admin, string usage)
    {
        _admin = admin;
        Usage(usage);
    }

    public override async Task<bool> Execute(AdminRoleInput input)
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
        catch (Exception e) when (e.GetBaseException() is PostgresException { SqlState: PostgresErrorCodes.UndefinedTable })
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

        var role = _admin ? "an admin" : "a plain user (not an admin)";
        if (user.IsAdmin == _admin)
        {
            Console.WriteLine($"{email} (user {user.Id}) is already {role}; nothing changed.");
            return true;
        }

        user.IsAdmin = _admin;
        session.Update(user);
        await session.SaveChangesAsync();
        Console.WriteLine($"{email} (user {user.Id}) is now {role}. This takes effect at their next login: a token issued " +
                          "before keeps the role it was issued with until it expires (Jwt__TokenLifetime, one hour by default).");
        return true;
    }
}

[Description("Gives a registered user the admin role (from their next login)", Name = "admin-grant")]
public class AdminGrantCommand() : AdminRoleCommand(admin: true, "Make this user an admin");

[Description("Takes the admin role from a user (from their next login)", Name = "admin-revoke")]
public class AdminRevokeCommand() : AdminRoleCommand(admin: false, "Make this admin a plain user");
