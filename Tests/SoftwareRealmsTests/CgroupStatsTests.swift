import FascoCore
@testable import SoftwareRealms
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("cgroup stats from cgroup files")
struct CgroupStatsFileTests {
    /// v1 hierarchies for cpuacct, memory and pids below `root`, each holding `path`.
    private func v1Host(_ root: String) -> HostCgroups {
        HostCgroups(
            root: root, mode: .legacy,
            hierarchies: ["cpu,cpuacct", "memory", "pids"].map {
                .init(version: .v1, mountPoint: "\(root)/\($0)", controllers: $0.split(separator: ",").map(String.init))
            },
            kernelSupportsV1: true, kernelSupportsV2: false, kernelControllers: [], systemdRunning: false)
    }

    @Test("v1: cpuacct, memory and pids files; working set = usage - total_inactive_file; a huge limit is none")
    func v1() throws {
        let root = try makeTemporaryDirectory("fasco-cg")
        defer { try? FileSystem.removeTree(root) }
        for hierarchy in ["cpu,cpuacct", "memory", "pids"] { try FileSystem.makeDirectories("\(root)/\(hierarchy)/pod/c1", mode: 0o755) }
        try writeText("123456789\n", to: "\(root)/cpu,cpuacct/pod/c1/cpuacct.usage")
        try writeText("100000000\n", to: "\(root)/cpu,cpuacct/pod/c1/cpuacct.usage_user")
        try writeText("23456789\n", to: "\(root)/cpu,cpuacct/pod/c1/cpuacct.usage_sys")
        try writeText("10485760\n", to: "\(root)/memory/pod/c1/memory.usage_in_bytes")
        try writeText("9223372036854771712\n", to: "\(root)/memory/pod/c1/memory.limit_in_bytes")
        try writeText(
            """
            cache 1
            rss 2
            total_cache 4194304
            total_rss 6291456
            total_pgfault 900
            total_pgmajfault 3
            total_inactive_file 1048576
            hierarchical_memory_limit 9223372036854771712

            """, to: "\(root)/memory/pod/c1/memory.stat")
        try writeText("7\n", to: "\(root)/pids/pod/c1/pids.current")

        let stats = try CgroupStats.read(path: "/pod/c1", host: v1Host(root))
        #expect(stats.cpuUsageNanos == 123_456_789)
        #expect(stats.cpuUserNanos == 100_000_000)
        #expect(stats.cpuSystemNanos == 23_456_789)
        #expect(stats.memoryUsageBytes == 10_485_760)
        #expect(stats.memoryLimitBytes == nil)
        #expect(stats.availableBytes == nil)
        #expect(stats.inactiveFileBytes == 1_048_576)
        #expect(stats.workingSetBytes == 10_485_760 - 1_048_576)
        #expect(stats.rssBytes == 6_291_456)
        #expect(stats.cacheBytes == 4_194_304)
        #expect(stats.pageFaults == 900)
        #expect(stats.majorPageFaults == 3)
        #expect(stats.pids == 7)
        #expect(stats.timestamp > 0)

        // A limit: available = limit - working set. Inactive above usage floors the working set at 0.
        try writeText("16777216\n", to: "\(root)/memory/pod/c1/memory.limit_in_bytes")
        #expect(try CgroupStats.read(path: "/pod/c1", host: v1Host(root)).availableBytes == 16_777_216 - (10_485_760 - 1_048_576))
        try writeText("total_inactive_file 99999999\n", to: "\(root)/memory/pod/c1/memory.stat")
        let floored = try CgroupStats.read(path: "/pod/c1", host: v1Host(root))
        #expect(floored.workingSetBytes == 0)
        #expect(floored.availableBytes == 16_777_216)
        #expect(floored.rssBytes == nil)
    }

    @Test("v2: cpu.stat in microseconds, memory.current/max/stat, pids.current; missing files are nil")
    func v2() throws {
        let root = try makeTemporaryDirectory("fasco-cg")
        defer { try? FileSystem.removeTree(root) }
        let host = HostCgroups(
            root: root, mode: .unified, hierarchies: [.init(version: .v2, mountPoint: root, controllers: ["cpu", "memory", "pids"])],
            kernelSupportsV1: false, kernelSupportsV2: true, kernelControllers: [], systemdRunning: false)
        try FileSystem.makeDirectories("\(root)/pod/c1", mode: 0o755)
        try writeText("usage_usec 2500\nuser_usec 2000\nsystem_usec 500\nnr_periods 0\n", to: "\(root)/pod/c1/cpu.stat")
        try writeText("8388608\n", to: "\(root)/pod/c1/memory.current")
        try writeText("max\n", to: "\(root)/pod/c1/memory.max")
        try writeText("anon 4194304\nfile 2097152\ninactive_file 1048576\npgfault 40\npgmajfault 1\n", to: "\(root)/pod/c1/memory.stat")

        let stats = try CgroupStats.read(path: "/pod/c1", host: host)
        #expect(stats.cpuUsageNanos == 2_500_000)
        #expect(stats.cpuUserNanos == 2_000_000)
        #expect(stats.cpuSystemNanos == 500_000)
        #expect(stats.memoryUsageBytes == 8_388_608)
        #expect(stats.memoryLimitBytes == nil)
        #expect(stats.workingSetBytes == 8_388_608 - 1_048_576)
        #expect(stats.rssBytes == 4_194_304)
        #expect(stats.cacheBytes == 2_097_152)
        #expect(stats.pageFaults == 40)
        #expect(stats.majorPageFaults == 1)
        #expect(stats.pids == nil, "no pids.current")

        try writeText("33554432\n", to: "\(root)/pod/c1/memory.max")
        #expect(try CgroupStats.read(path: "/pod/c1", host: host).availableBytes == 33_554_432 - (8_388_608 - 1_048_576))

        // A cgroup with no files at all still exists: every field nil.
        try FileSystem.makeDirectories("\(root)/empty", mode: 0o755)
        let empty = try CgroupStats.read(path: "/empty", host: host)
        #expect(empty == CgroupStats(timestamp: empty.timestamp))

        #expect { try CgroupStats.read(path: "/pod/missing", host: host) } throws: { ($0 as? FascoError)?.code == .notFound }
        #expect { try CgroupStats.read(path: "pod", host: host) } throws: { ($0 as? FascoError)?.code == .invalidArgument }
    }
}

/// A python3 that, in the cgroup it is moved to, allocates and touches 50 MiB on "alloc" and
/// burns 0.3 s of its own CPU time on "burn", answering each with a line; EOF ends it.
private let workerScript = """
    import sys, time
    data = None
    for line in sys.stdin:
        command = line.strip()
        if command == "alloc":
            data = bytearray(50 << 20)
            for i in range(0, len(data), 4096):
                data[i] = 1
            print("allocated", flush=True)
        elif command == "burn":
            start = time.process_time()
            x = 0
            while time.process_time() - start < 0.3:
                x += 1
            print("burned", flush=True)
    """

private let python3: String? = {
    let candidates: [String] = ["/usr/bin/python3", "/usr/local/bin/python3"]
    return candidates.first { access($0, X_OK) == 0 }
}()

@Suite(
    "cgroup stats of real processes",
    .enabled(if: writableHostCgroups != nil && python3 != nil, "needs root, mounted cgroups and python3"))
struct CgroupStatsHostTests {
    @Test("memory usage covers what a process allocated, CPU usage grows as it burns CPU, pids counts its tasks")
    func realProcess() async throws {
        let host = try #require(writableHostCgroups)
        let python = try #require(python3)
        let top = uniqueCgroupRoot("stats")
        let pod = try PodCgroup(host: host, path: top + "/pod")
        try pod.create()
        let worker = try ProcessSpawner.spawn(.init(python, arguments: ["-c", workerScript], stdin: .pipe, stdout: .pipe))
        var sleeper: pid_t?
        var pipesOpen = true
        do {
            let input = try #require(worker.stdin), output = try #require(worker.stdout)
            // In the cgroup before it allocates: v1 charges pages where they were first touched.
            try pod.add(pid: worker.pid)
            let before = try CgroupStats.read(path: pod.path, host: host)

            try send("alloc\n", to: input)
            #expect(try await readUntil(output, contains: "allocated\n").contains("allocated"))
            let allocated = try CgroupStats.read(path: pod.path, host: host)
            let fifty: UInt64 = 50 << 20
            #expect(try #require(allocated.memoryUsageBytes) >= fifty)
            #expect(try #require(allocated.workingSetBytes) >= fifty)
            #expect(try #require(allocated.rssBytes) >= fifty)
            #expect(try #require(allocated.pageFaults) > #require(before.pageFaults), "the pages were touched")
            #expect(allocated.memoryLimitBytes == nil)
            #expect(allocated.availableBytes == nil)
            #expect(allocated.timestamp >= before.timestamp)
            if host.hierarchy(of: "pids") != nil { #expect(allocated.pids == 1) }

            try send("burn\n", to: input)
            #expect(try await readUntil(output, contains: "burned\n").contains("burned"))
            let burned = try CgroupStats.read(path: pod.path, host: host)
            let cpuBefore = try #require(allocated.cpuUsageNanos), cpuAfter = try #require(burned.cpuUsageNanos)
            // The process measured 0.3 s of its own CPU time; the cgroup saw at least that
            // (less a tick of accounting granularity).
            #expect(cpuAfter >= cpuBefore + 250_000_000, "\(cpuBefore) -> \(cpuAfter)")
            if let user = burned.cpuUserNanos, let system = burned.cpuSystemNanos {
                #expect(user + system > 0)
            }

            // The pod's cgroup counts its children's tasks.
            let container = try PodCgroup(host: host, path: try pod.containerCgroupsPath(containerID: "c1"))
            try container.create()
            sleeper = try spawnSleeper()
            try container.add(pid: #require(sleeper))
            if host.hierarchy(of: "pids") != nil {
                #expect(try CgroupStats.read(path: pod.path, host: host).pids == 2)
                #expect(try CgroupStats.read(path: container.path, host: host).pids == 1)
            }

            // A limit shows, with what is left of it.
            if let memory = host.hierarchy(of: "memory") {
                let directory = pod.directory(in: memory)
                let file = memory.version == .v1 ? "memory.limit_in_bytes" : "memory.max"
                #expect(CgroupPath.write("\(200 << 20)", to: "\(directory)/\(file)") == 0)
                let limited = try CgroupStats.read(path: pod.path, host: host)
                #expect(limited.memoryLimitBytes == 200 << 20)
                let workingSet = try #require(limited.workingSetBytes)
                #expect(limited.availableBytes == (200 << 20) - workingSet)
            }

            worker.closePipes()
            pipesOpen = false
            #expect(try await ProcessSpawner.wait(worker.pid) == .exited(0))
            if let sleeper { await killAndReap(sleeper) }
            try await pod.remove()
            #expect(try pod.processes().isEmpty)
            #expect { try CgroupStats.read(path: pod.path, host: host) } throws: { ($0 as? FascoError)?.code == .notFound }
            try await PodCgroup(host: host, path: top).remove()
        } catch {
            if pipesOpen { worker.closePipes() }
            await killAndReap(worker.pid)
            if let sleeper { await killAndReap(sleeper) }
            try? await PodCgroup(host: host, path: top).remove()
            throw error
        }
    }
}

private func send(_ text: String, to fd: Int32) throws {
    let bytes = Array(text.utf8)
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    guard written == bytes.count else { throw FascoError.internal("write: \(FileSystem.errnoText)") }
}
