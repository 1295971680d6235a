namespace OrderEvents.Features.Auth;

/// <summary>A registered user (Marten document, numeric id from Marten's HiLo sequence).</summary>
public sealed class User
{
    public long Id { get; set; }

    /// <summary>Trimmed and lower-cased; unique (index in PersistenceSetup).</summary>
    public string Email { get; set; } = "";

    /// <summary>ASP.NET Core Identity's PasswordHasher format (PBKDF2, salted, versioned).</summary>
    public string PasswordHash { get; set; } = "";

    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>Set only by an operator (`admin-grant` / `admin-revoke`); read into the token at login.</summary>
    public bool IsAdmin { get; set; }

    public static string NormalizeEmail(string email) => email.Trim().ToLowerInvariant();
}
