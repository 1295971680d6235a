namespace OrderEvents.Infrastructure.Kafka;

/// <summary>
/// How the Kafka listener rides out a PostgreSQL outage: retry in place (about a minute: keeps per-partition order, well
/// inside Kafka's 5-minute poll interval), then pause and take the same records again. Tests run it in a second.
/// </summary>
public sealed class DatabaseRetrySettings : IValidatableObject
{
    public const string Section = "Messaging:DatabaseRetry";

    private static readonly TimeSpan[] DefaultDelays =
        [.. new[] { 50, 250, 1000, 2000, 5000, 10000, 10000, 10000, 10000, 10000, 10000 }.Select(ms => TimeSpan.FromMilliseconds(ms))];

    /// <summary>Bound apart from <see cref="Delays"/>: the binder appends to an array it finds filled.</summary>
    [ConfigurationKeyName("Delays")]
    public TimeSpan[]? ConfiguredDelays { get; set; }

    [Range(typeof(TimeSpan), "00:00:00.001", "01:00:00")]
    public TimeSpan Pause { get; set; } = TimeSpan.FromSeconds(5);

    public TimeSpan[] Delays => ConfiguredDelays is { Length: > 0 } configured ? configured : DefaultDelays;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext) =>
        Delays.Where(delay => delay <= TimeSpan.Zero).Take(1).Select(delay => new ValidationResult(
            $"Messaging:DatabaseRetry:Delays must be positive durations such as 00:00:00.050, not {delay}.", [nameof(ConfiguredDelays)]));

    /// <summary>The binder silently skips an array element it cannot convert ("soon"): this names it instead.</summary>
    public sealed class UnreadableDelays(IConfiguration configuration) : IValidateOptions<DatabaseRetrySettings>
    {
        public ValidateOptionsResult Validate(string? name, DatabaseRetrySettings options) =>
            configuration.GetSection(Section + ":Delays").GetChildren()
                .FirstOrDefault(delay => !TimeSpan.TryParse(delay.Value, CultureInfo.InvariantCulture, out _)) is { } unreadable
                ? ValidateOptionsResult.Fail($"{unreadable.Path} ('{unreadable.Value}') must be a duration such as 00:00:00.050.")
                : ValidateOptionsResult.Success;
    }
}
