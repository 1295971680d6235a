using System.Globalization;

namespace OrderEvents.Bench.Reads;

/// <summary>Options of the `reads` subcommand (issue 23, item 3): list pages of one user with a long history.</summary>
public sealed class ReadsOptions
{
    public int Items { get; private set; } = 30_000;
    public int Connections { get; private set; } = 8;
    public int PageSize { get; private set; } = 20;

    /// <summary>Pages to time; empty = the first, the middle, the last and the one after it.</summary>
    public int[] Pages { get; private set; } = [];

    public int Repeat { get; private set; } = 5;
    public bool Vacuum { get; private set; } = true;
    public bool WaitForAutovacuum { get; private set; }
    public bool Plans { get; private set; } = true;
    public string? ServiceDll { get; private set; }
    public string? LoadWithDll { get; private set; }
    public bool NoBuild { get; private set; }
    public string PostgresBin { get; private set; } = "/usr/lib/postgresql/15/bin";
    public string? Out { get; private set; }
    public string? RepoRoot { get; private set; }
    public bool KeepLogs { get; set; }

    public int LastPage => Math.Max(1, (Items + PageSize - 1) / PageSize);

    public int[] PagesToTime => Pages.Length > 0 ? Pages : [1, Math.Max(1, LastPage / 2), LastPage, LastPage + 1];

    public const string Usage = """
        Reads of one user with a long history (issue 23): one Release build of the service on its own PostgreSQL cluster
        (fsync on, KAFKA_ENABLED=false: events become notifications through the local durable queue), one user with
        --items orders created through POST /api/orders and their notifications, then GET /api/orders and
        GET /api/notifications timed per page (median of --repeat), and each page's query plans (auto_explain, with
        ANALYZE and BUFFERS, one extra request per page after the timing).

          dotnet run -c Release --project bench/OrderEvents.Bench -- reads [options]

          --items 30000          orders (and so notifications) of the user
          --connections 8        parallel connections creating the orders
          --page-size 20         pageSize of every timed request
          --pages 1,750,1500     pages to time (default: first, middle, last and last+1 of --items / --page-size)
          --repeat 5             timed requests per list and page (the rounds go over every page in turn)
          --no-vacuum            measure right after the load, without the VACUUM (ANALYZE) the bench runs by default
                                 (what autovacuum does by itself about a minute after such a load)
          --wait-for-autovacuum  instead of that VACUUM, wait until autovacuum has vacuumed and analyzed both tables
                                 after the load by itself (default settings: within a few minutes)
          --no-plans             skip the auto_explain pass
          --service-dll PATH     measure this OrderEvents.dll instead of publishing src/OrderEvents
          --load-with PATH       create the user with this OrderEvents.dll (e.g. an older build), stop it, run the
                                 measured build's `db-apply` on that database and measure the measured build: an upgrade
          --no-build             reuse the last publish output (artifacts/bench/service)
          --pg-bin DIR           PostgreSQL binaries (default /usr/lib/postgresql/15/bin)
          --out FILE             also write the markdown report to FILE (relative to the repository root)
          --keep-logs            keep the run folder (service logs, PostgreSQL's log)
        """;

    public static ReadsOptions Parse(string[] args)
    {
        var options = new ReadsOptions();
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            int Positive() => int.Parse(Value(), CultureInfo.InvariantCulture) is > 0 and var n ? n : throw new ArgumentException($"{args[i - 1]} must be positive");
            switch (args[i])
            {
                case "--items": options.Items = Positive(); break;
                case "--connections": options.Connections = Positive(); break;
                case "--page-size": options.PageSize = Positive(); break;
                case "--pages":
                    options.Pages = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                        .Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToArray();
                    break;
                case "--repeat": options.Repeat = Positive(); break;
                case "--no-vacuum": options.Vacuum = false; break;
                case "--wait-for-autovacuum": options.Vacuum = false; options.WaitForAutovacuum = true; break;
                case "--no-plans": options.Plans = false; break;
                case "--service-dll": options.ServiceDll = Value(); break;
                case "--load-with": options.LoadWithDll = Value(); break;
                case "--no-build": options.NoBuild = true; break;
                case "--pg-bin": options.PostgresBin = Value(); break;
                case "--out": options.Out = Value(); break;
                case "--repo": options.RepoRoot = Value(); break;
                case "--keep-logs": options.KeepLogs = true; break;
                case "-h" or "--help": throw new HelpRequested();
                default: throw new ArgumentException($"Unknown option {args[i]}");
            }
        }

        return options;
    }
}
