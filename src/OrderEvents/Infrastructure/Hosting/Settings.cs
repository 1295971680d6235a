namespace OrderEvents.Infrastructure.Hosting;

public static class Settings
{
    /// <summary>
    /// Binds a settings class from its section (null: the root), validated by its data annotations at start-up (a bad value
    /// stops it, naming the setting); injectable as IOptions&lt;T&gt; and as T. Returns the values for set-up code.
    /// </summary>
    public static T AddSettings<T>(this WebApplicationBuilder builder, string? section) where T : class, new()
    {
        IConfiguration source = section is null ? builder.Configuration : builder.Configuration.GetSection(section);
        builder.Services.AddOptionsWithValidateOnStart<T>().Bind(source).ValidateDataAnnotations();
        builder.Services.AddSingleton(services => services.GetRequiredService<IOptions<T>>().Value);
        return source.Get<T>() ?? new T();
    }
}
