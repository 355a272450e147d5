import FascoCore
#if canImport(Glibc)
import Glibc
#endif

/// Resource usage of one cgroup, read from the host's cgroup files: what CRI's
/// `ContainerStats` and `PodSandboxStats` report (CPU, memory, process count).
///
/// Each controller is read from the hierarchy `HostCgroups` places it in, so a hybrid host
/// mixes versions freely:
///
/// | field | cgroup v1 | cgroup v2 |
/// |---|---|---|
/// | cpuUsageNanos | cpuacct.usage | cpu.stat usage_usec × 1000 |
/// | cpuUserNanos, cpuSystemNanos | cpuacct.usage_user, cpuacct.usage_sys | cpu.stat user_usec, system_usec × 1000 |
/// | memoryUsageBytes | memory.usage_in_bytes | memory.current |
/// | memoryLimitBytes | memory.limit_in_bytes | memory.max |
/// | inactiveFileBytes | memory.stat total_inactive_file | memory.stat inactive_file |
/// | rssBytes | memory.stat total_rss | memory.stat anon |
/// | cacheBytes | memory.stat total_cache | memory.stat file |
/// | pageFaults, majorPageFaults | memory.stat total_pgfault, total_pgmajfault | memory.stat pgfault, pgmajfault |
/// | pids | pids.current | pids.current |
///
/// A file that does not exist leaves its fields nil (the root cgroup of v2 has no
/// memory.current, a kernel may lack cpuacct.usage_user, ...). Values are the kernel's,
/// hierarchical: a pod's cgroup includes its containers'.
public struct CgroupStats: Sendable, Equatable {
    /// CLOCK_REALTIME in nanoseconds when the files were read.
    public var timestamp: Int64
    /// CPU time of all tasks, user and system, in nanoseconds (cumulative).
    public var cpuUsageNanos: UInt64?
    public var cpuUserNanos: UInt64?
    public var cpuSystemNanos: UInt64?
    /// Memory charged to the cgroup, page cache included.
    public var memoryUsageBytes: UInt64?
    /// The memory limit; nil when there is none (v2 "max", or a v1 value above 2^62, which is
    /// how kubelet tells "unlimited" apart).
    public var memoryLimitBytes: UInt64?
    /// Usage less inactive file pages, at least 0: what kubelet and cAdvisor call the working
    /// set, and what evictions and `kubectl top` use.
    public var workingSetBytes: UInt64?
    /// Anonymous memory (and swap cache on v1), without page cache.
    public var rssBytes: UInt64?
    /// Page cache.
    public var cacheBytes: UInt64?
    /// Page cache not used recently, which the kernel reclaims first.
    public var inactiveFileBytes: UInt64?
    public var pageFaults: UInt64?
    public var majorPageFaults: UInt64?
    /// limit - working set (at least 0) when a limit is set; nil otherwise.
    public var availableBytes: UInt64?
    /// Tasks in the cgroup (threads count as tasks).
    public var pids: UInt64?

    public init(
        timestamp: Int64, cpuUsageNanos: UInt64? = nil, cpuUserNanos: UInt64? = nil, cpuSystemNanos: UInt64? = nil,
        memoryUsageBytes: UInt64? = nil, memoryLimitBytes: UInt64? = nil, workingSetBytes: UInt64? = nil,
        rssBytes: UInt64? = nil, cacheBytes: UInt64? = nil, inactiveFileBytes: UInt64? = nil, pageFaults: UInt64? = nil, majorPageFaults: UInt64? = nil,
        availableBytes: UInt64? = nil, pids: UInt64? = nil
    ) {
        self.timestamp = timestamp
        self.cpuUsageNanos = cpuUsageNanos
        self.cpuUserNanos = cpuUserNanos
        self.cpuSystemNanos = cpuSystemNanos
        self.memoryUsageBytes = memoryUsageBytes
        self.memoryLimitBytes = memoryLimitBytes
        self.workingSetBytes = workingSetBytes
        self.rssBytes = rssBytes
        self.cacheBytes = cacheBytes
        self.inactiveFileBytes = inactiveFileBytes
        self.pageFaults = pageFaults
        self.majorPageFaults = majorPageFaults
        self.availableBytes = availableBytes
        self.pids = pids
    }

    /// Limits above this are "unlimited" (kubelet's rule; v1 reports PAGE_COUNTER_MAX pages).
    static let unlimitedAbove: UInt64 = 1 << 62

    /// Reads the cgroup at `path` (relative to every hierarchy's root, as `PodCgroup.path` or a
    /// cgroupfs `linux.cgroupsPath`; the root "/" is allowed).
    ///
    /// Throws `.notFound` when the cgroup exists in none of the hierarchies read (cpuacct,
    /// memory, pids, or the v2 one), `.invalidArgument` for a malformed path.
    public static func read(path: String, host: HostCgroups) throws(FascoError) -> CgroupStats {
        let path = try CgroupPath.normalized(path, allowRoot: true)
        var stats = CgroupStats(timestamp: now())
        var found = false

        func directory(of controller: String) -> (String, HostCgroups.Version)? {
            guard let hierarchy = host.hierarchy(of: controller) else { return nil }
            let directory = CgroupPath.directory(mountPoint: hierarchy.mountPoint, path: path)
            guard FileSystem.isDirectory(directory) else { return nil }
            found = true
            return (directory, hierarchy.version)
        }

        // CPU: v1 cpuacct; else v2 cpu.stat, which every v2 cgroup has even without the cpu controller.
        if host.hierarchy(of: "cpuacct")?.version == .v1 {
            if let (cpuacct, _) = directory(of: "cpuacct") { try stats.readCPUv1(cpuacct) }
        } else if let mount = host.v2MountPoint, FileSystem.isDirectory(CgroupPath.directory(mountPoint: mount, path: path)) {
            found = true
            try stats.readCPUv2(CgroupPath.directory(mountPoint: mount, path: path))
        }
        if let (memory, version) = directory(of: "memory") {
            if version == .v1 { try stats.readMemoryV1(memory) } else { try stats.readMemoryV2(memory) }
            stats.deriveWorkingSet()
        }
        if let (pids, _) = directory(of: "pids") {
            stats.pids = CgroupPath.number(try CgroupPath.read(pids + "/pids.current"))
        }
        guard found else { throw .notFound("cgroup \(path) does not exist") }
        return stats
    }

    private mutating func readCPUv1(_ directory: String) throws(FascoError) {
        cpuUsageNanos = CgroupPath.number(try CgroupPath.read(directory + "/cpuacct.usage"))
        cpuUserNanos = CgroupPath.number(try CgroupPath.read(directory + "/cpuacct.usage_user"))
        cpuSystemNanos = CgroupPath.number(try CgroupPath.read(directory + "/cpuacct.usage_sys"))
    }

    private mutating func readCPUv2(_ directory: String) throws(FascoError) {
        guard let text = try CgroupPath.read(directory + "/cpu.stat") else { return }
        let values = CgroupPath.keyedValues(text)
        cpuUsageNanos = values["usage_usec"].map { $0 &* 1000 }
        cpuUserNanos = values["user_usec"].map { $0 &* 1000 }
        cpuSystemNanos = values["system_usec"].map { $0 &* 1000 }
    }

    private mutating func readMemoryV1(_ directory: String) throws(FascoError) {
        memoryUsageBytes = CgroupPath.number(try CgroupPath.read(directory + "/memory.usage_in_bytes"))
        memoryLimitBytes = CgroupPath.number(try CgroupPath.read(directory + "/memory.limit_in_bytes")).flatMap {
            $0 > Self.unlimitedAbove ? nil : $0
        }
        guard let text = try CgroupPath.read(directory + "/memory.stat") else { return }
        let values = CgroupPath.keyedValues(text)
        inactiveFileBytes = values["total_inactive_file"]
        rssBytes = values["total_rss"]
        cacheBytes = values["total_cache"]
        pageFaults = values["total_pgfault"]
        majorPageFaults = values["total_pgmajfault"]
    }

    private mutating func readMemoryV2(_ directory: String) throws(FascoError) {
        memoryUsageBytes = CgroupPath.number(try CgroupPath.read(directory + "/memory.current"))
        memoryLimitBytes = CgroupPath.number(try CgroupPath.read(directory + "/memory.max")).flatMap {
            $0 > Self.unlimitedAbove ? nil : $0  // "max" parses as nil already
        }
        guard let text = try CgroupPath.read(directory + "/memory.stat") else { return }
        let values = CgroupPath.keyedValues(text)
        inactiveFileBytes = values["inactive_file"]
        rssBytes = values["anon"]
        cacheBytes = values["file"]
        pageFaults = values["pgfault"]
        majorPageFaults = values["pgmajfault"]
    }

    /// working set = usage - inactive file (floored at 0); available = limit - working set.
    private mutating func deriveWorkingSet() {
        guard let usage = memoryUsageBytes else { return }
        let inactive = inactiveFileBytes ?? 0
        let workingSet = usage > inactive ? usage - inactive : 0
        workingSetBytes = workingSet
        if let limit = memoryLimitBytes { availableBytes = limit > workingSet ? limit - workingSet : 0 }
    }

    private static func now() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }
}
