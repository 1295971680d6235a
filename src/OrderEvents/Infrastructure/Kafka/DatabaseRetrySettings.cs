using System.ComponentModel.DataAnnotations;
using System.Globalization;

namespace OrderEvents.Infrastructure.Kafka;

/// <summary>
/// Section "Messaging:DatabaseRetry": how the Kafka listener rides out a PostgreSQL outage. Retry in place with these
/// cooldowns (about a minute: keeps per-partition order and stays well inside Kafka's 5-minute poll interval), then
/// pause the listener and take the same records again. Configurable so tests can run the whole path in a second.
/// </summary>
public sealed class DatabaseRetrySettings
{
    public const string Section = "Messaging:DatabaseRetry";

    /// <summary>The in-place retry cooldowns: comma-separated milliseconds, each at least 1.</summary>
    [Required, RegularExpression(@"^\s*[1-9][0-9]*(\s*,\s*[1-9][0-9]*)*\s*$", ErrorMessage = "Messaging:DatabaseRetry:DelaysMs must be positive whole milliseconds separated by commas, e.g. 50,250,1000.")]
    public string DelaysMs { get; set; } = "50,250,1000,2000,5000,10000,10000,10000,10000,10000,10000";

    /// <summary>How long the listeners pause once the retries are used up.</summary>
    [Range(0.001, 3600)]
    public double PauseSeconds { get; set; } = 5;

    // Read while Wolverine is configured, before the host validates the settings: what does not parse is left out here
    // and stops start-up there, naming the setting.
    public TimeSpan[] Delays =>
    [
        .. DelaysMs.Split(',').Select(ms => int.TryParse(ms, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : 0)
            .Where(ms => ms > 0).Select(ms => TimeSpan.FromMilliseconds(ms)),
    ];

    public TimeSpan Pause => TimeSpan.FromSeconds(PauseSeconds);
}
