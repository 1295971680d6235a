namespace OrderEvents.Bench.Harness;

/// <summary>CPU time and memory of processes, from /proc (Linux).</summary>
public static class ProcStats
{
    // USER_HZ: 100 on every Linux this runs on (sysconf(_SC_CLK_TCK)).
    private const double MillisecondsPerTick = 10.0;

    /// <summary>utime + stime of one process (all its threads), in ms.</summary>
    public static double CpuMilliseconds(int pid) => Fields(pid) is { } f ? (long.Parse(f[11]) + long.Parse(f[12])) * MillisecondsPerTick : 0;

    /// <summary>
    /// CPU of a process tree such as PostgreSQL's: the parent's own time, the time of its reaped children (cutime +
    /// cstime: backends that already exited), and the time of its live children. Deltas of this sum stay exact while
    /// backends come and go.
    /// </summary>
    public static double TreeCpuMilliseconds(int parentPid)
    {
        if (Fields(parentPid) is not { } parent) return 0;
        var ticks = long.Parse(parent[11]) + long.Parse(parent[12]) + long.Parse(parent[13]) + long.Parse(parent[14]);
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid) || pid == parentPid) continue;
            if (Fields(pid) is { } child && int.Parse(child[1]) == parentPid)
                ticks += long.Parse(child[11]) + long.Parse(child[12]);
        }

        return ticks * MillisecondsPerTick;
    }

    /// <summary>A /proc/&lt;pid&gt;/status value in KiB, e.g. VmHWM (peak RSS) or VmRSS.</summary>
    public static long StatusKib(int pid, string key)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith(key + ":", StringComparison.Ordinal))
                    return long.Parse(line[(key.Length + 1)..].Trim().Split(' ')[0]);
        }
        catch (IOException)
        {
        }

        return 0;
    }

    /// <summary>The fields of /proc/pid/stat after the command name: [0] = state, [1] = ppid, [11] = utime, [12] = stime, [13] = cutime, [14] = cstime.</summary>
    private static string[]? Fields(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // The command name is in parentheses and may contain spaces: split after the last ')'.
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}
