using System.Globalization;

namespace OrderEvents.Bench.Profiling;

/// <summary>
/// Where a process's resident memory is, from /proc: the totals of smaps_rollup (anonymous vs file-backed) and, from
/// smaps, the resident size of each mapped file (assemblies, native libraries) and of the anonymous mappings.
/// </summary>
public sealed record MemorySnapshot(
    Dictionary<string, long> RollupKib,
    Dictionary<string, long> StatusKib,
    List<(string Mapping, long RssKib, long AnonymousKib)> ByMapping)
{
    public static MemorySnapshot Read(int pid, bool withMappings)
    {
        var rollup = ReadKeyValues($"/proc/{pid}/smaps_rollup");
        var status = ReadKeyValues($"/proc/{pid}/status").Where(p => p.Key.StartsWith("Vm", StringComparison.Ordinal) || p.Key.StartsWith("Rss", StringComparison.Ordinal))
            .ToDictionary();
        var mappings = withMappings ? ReadMappings(pid) : [];
        return new MemorySnapshot(rollup, status, mappings);
    }

    /// <summary>Every managed assembly and native library mapped into the process (by file name).</summary>
    public IEnumerable<string> MappedFiles => ByMapping.Select(m => m.Mapping).Where(m => m.StartsWith('/'));

    private static Dictionary<string, long> ReadKeyValues(string path)
    {
        var values = new Dictionary<string, long>();
        try
        {
            foreach (var line in File.ReadLines(path))
            {
                var colon = line.IndexOf(':');
                if (colon <= 0) continue;
                var value = line[(colon + 1)..].Trim().Split(' ')[0];
                if (long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var kib)) values[line[..colon].Trim()] = kib;
            }
        }
        catch (IOException)
        {
        }

        return values;
    }

    /// <summary>Rss and Anonymous of /proc/pid/smaps added up per mapped path ("[anon]" for anonymous mappings).</summary>
    private static List<(string, long, long)> ReadMappings(int pid)
    {
        var totals = new Dictionary<string, (long Rss, long Anonymous)>();
        var current = "[anon]";
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/smaps"))
            {
                var space = line.IndexOf(' ');
                if (space > 0 && line[..space].Contains('-') && line[..space].All(c => c == '-' || char.IsAsciiHexDigit(c)))
                {
                    // "7f12...-7f13... r-xp 00000000 08:01 1234   /usr/share/dotnet/.../System.Private.CoreLib.dll"
                    var parts = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
                    current = parts.Length >= 6 ? parts[5].Trim() : "[anon]";
                    continue;
                }

                if (line.StartsWith("Rss:", StringComparison.Ordinal) || line.StartsWith("Anonymous:", StringComparison.Ordinal))
                {
                    var kib = long.Parse(line[(line.IndexOf(':') + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                    var entry = totals.GetValueOrDefault(current);
                    totals[current] = line[0] == 'R' ? (entry.Rss + kib, entry.Anonymous) : (entry.Rss, entry.Anonymous + kib);
                }
            }
        }
        catch (IOException)
        {
        }

        return totals.Select(p => (p.Key, p.Value.Rss, p.Value.Anonymous)).OrderByDescending(m => m.Item2).ToList();
    }
}
