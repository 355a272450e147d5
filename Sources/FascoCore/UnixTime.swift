#if canImport(Glibc)
import Glibc
#endif

/// Wall-clock time as CRI reports it: nanoseconds since the Unix epoch.
public enum UnixTime {
    public static func nanoseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }
}
