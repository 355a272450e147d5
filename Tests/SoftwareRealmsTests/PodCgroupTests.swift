import FascoCore
import RealmCore
@testable import SoftwareRealms
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The host's real cgroup layout when the tests may create cgroups in it.
let writableHostCgroups: HostCgroups? = {
    guard runningAsRoot, let host = try? HostCgroups.detect(), host.mode != .none,
        host.hierarchies.contains(where: { !$0.readOnly })
    else { return nil }
    return host
}()

/// A unique top-level cgroup for one test, so that removing it leaves nothing behind.
func uniqueCgroupRoot(_ label: String) -> String {
    "/fasco-test-\(label)-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
}

/// The process's cgroup in every hierarchy: `/proc/PID/cgroup` as "controllers -> path".
func cgroupMembership(_ pid: pid_t) throws -> [String: String] {
    var result: [String: String] = [:]
    for line in (try readText("/proc/\(pid)/cgroup") ?? "").split(separator: "\n") {
        let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        if parts.count == 3 { result[String(parts[1])] = String(parts[2]) }
    }
    return result
}

/// A `sleep` that the test reaps itself.
func spawnSleeper() throws -> pid_t {
    try ProcessSpawner.spawn(.init("/bin/sleep", arguments: ["300"])).pid
}

func killAndReap(_ pid: pid_t) async {
    kill(pid, SIGKILL)
    _ = try? await ProcessSpawner.wait(pid)
}

@Suite("pod cgroups: paths")
struct PodCgroupPathTests {
    private let host = HostCgroups(
        root: "/sys/fs/cgroup", mode: .unified, hierarchies: [.init(version: .v2, mountPoint: "/sys/fs/cgroup", controllers: ["memory"])],
        kernelSupportsV1: false, kernelSupportsV2: true, kernelControllers: ["memory"], systemdRunning: false)

    @Test("paths are normalized; relative, root, . and .. paths are refused")
    func normalization() throws {
        #expect(try PodCgroup(host: host, path: "/fasco//pod1/").path == "/fasco/pod1")
        #expect(try PodCgroup(host: host, path: "/fasco/pod1").directories == ["/sys/fs/cgroup/fasco/pod1"])
        for bad in ["fasco/pod1", "/", "//", "/fasco/../etc", "/fasco/./pod", ""] {
            #expect(throws: FascoError.self, "\(bad.debugDescription)") { try PodCgroup(host: host, path: bad) }
        }
    }

    @Test("cgroupsPath values: cgroupfs paths and systemd slice:prefix:name")
    func cgroupsPaths() throws {
        let pod = try PodCgroup(host: host, path: "/fasco/pod1")
        #expect(try pod.containerCgroupsPath(containerID: "c1") == "/fasco/pod1/c1")
        #expect(try PodCgroup.containerCgroupsPath(parent: "/", containerID: "c1", driver: .cgroupfs) == "/c1")
        #expect(
            try PodCgroup.containerCgroupsPath(parent: "kubepods-besteffort-pod1.slice", containerID: "c1", driver: .systemd)
                == "kubepods-besteffort-pod1.slice:fasco:c1")
        #expect(
            try PodCgroup.containerCgroupsPath(parent: "pod.slice", containerID: "c1", driver: .systemd, systemdPrefix: "cri")
                == "pod.slice:cri:c1")
        #expect(throws: FascoError.self) { try PodCgroup.containerCgroupsPath(parent: "/fasco", containerID: "c1", driver: .systemd) }
        #expect(throws: FascoError.self) { try PodCgroup.containerCgroupsPath(parent: "p.slice", containerID: "a:b", driver: .systemd) }
        for bad in ["", ".", "..", "a/b"] {
            #expect(throws: FascoError.self) { try pod.containerCgroupsPath(containerID: bad) }
        }
    }

    @Test("systemd slices expand to their parents' directories")
    func slices() throws {
        #expect(try PodCgroup.systemdSlicePath("-.slice") == "/")
        #expect(try PodCgroup.systemdSlicePath("system.slice") == "/system.slice")
        #expect(
            try PodCgroup.systemdSlicePath("kubepods-besteffort-pod1.slice")
                == "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice")
        for bad in ["kubepods", "-a.slice", "a-.slice", "a--b.slice", "a/b.slice", ".slice"] {
            #expect(throws: FascoError.self, "\(bad)") { try PodCgroup.systemdSlicePath(bad) }
        }
        #expect(
            try PodCgroup.hostPath(forCgroupsPath: "kubepods-pod1.slice:fasco:c1", driver: .systemd)
                == "/kubepods.slice/kubepods-pod1.slice/fasco-c1.scope")
        #expect(try PodCgroup.hostPath(forCgroupsPath: "-.slice:fasco:c1", driver: .systemd) == "/fasco-c1.scope")
        #expect(try PodCgroup.hostPath(forCgroupsPath: "/fasco//pod1/c1", driver: .cgroupfs) == "/fasco/pod1/c1")
        #expect(throws: FascoError.self) { try PodCgroup.hostPath(forCgroupsPath: "pod.slice:c1", driver: .systemd) }
    }
}

/// The kernel's cgroup v2 hierarchy, mounted for one test at a directory of its own (the host's
/// v2 hierarchy, wherever the host has it mounted, or not at all): real cgroupfs files, not a
/// plain directory with the text a test thinks they hold.
struct CgroupV2Mount {
    static let kernelHasIt = ((try? readText("/proc/filesystems")) ?? nil)?.contains("\tcgroup2\n") == true
    let mountPoint: String

    init() throws {
        mountPoint = try makeTemporaryDirectory("fasco-cg2")
        // The hierarchy's options belong to the whole hierarchy and every mount of it sets them:
        // mount it with those it has already (as Tests/cgroupv2/lab.sh does).
        let existing = try MountInfo.current().last { $0.fileSystemType == "cgroup2" }
        let options = (existing?.superOptions ?? []).filter { $0 != "rw" && $0 != "ro" }.joined(separator: ",")
        let status = options.isEmpty ? mount("cgroup2", mountPoint, "cgroup2", 0, nil) : mount("cgroup2", mountPoint, "cgroup2", 0, options)
        guard status == 0 else {
            let error = FascoError.internal("mount cgroup2 on \(mountPoint): \(FileSystem.errnoText)")
            rmdir(mountPoint)
            throw error
        }
    }

    /// What `directory`'s cgroup.controllers or cgroup.subtree_control lists.
    static func list(_ path: String) throws -> [String] {
        (try readText(path) ?? "").split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
    }

    func unmount() {
        umount2(mountPoint, Int32(MNT_DETACH))
        rmdir(mountPoint)
    }
}

@Suite("pod cgroups on a real cgroup v2 hierarchy", .serialized)
struct PodCgroupV2Tests {
    @Test("unified layout: ancestors delegate what they offer, the pod does not; removal takes children first",
          .enabled(if: runningAsRoot, "needs root to mount cgroup2"),
          .enabled(if: CgroupV2Mount.kernelHasIt, "this kernel has no cgroup2 file system"))
    func unifiedSubtreeControl() async throws {
        let v2 = try CgroupV2Mount()
        defer { v2.unmount() }
        let root = v2.mountPoint
        let offered = try CgroupV2Mount.list(root + "/cgroup.controllers")
        let host = HostCgroups(
            root: root, mode: .unified, hierarchies: [.init(version: .v2, mountPoint: root, controllers: offered)],
            kernelSupportsV1: false, kernelSupportsV2: true, kernelControllers: [], systemdRunning: false)
        let top = uniqueCgroupRoot("v2")
        let pod = try PodCgroup(host: host, path: top + "/pod1")
        do {
            try pod.create()
            try pod.create()  // idempotent
            #expect(FileSystem.isDirectory(root + top + "/pod1"))
            // Every level above the pod hands its children what it has: the root what the
            // kernel's v2 offers (others may have enabled them already), the top level exactly
            // what it got; the pod itself delegates nothing (its containers' runtimes do).
            #expect(Set(try CgroupV2Mount.list(root + "/cgroup.subtree_control")).isSuperset(of: offered))
            let topOffers = try CgroupV2Mount.list(root + top + "/cgroup.controllers")
            #expect(Set(topOffers) == Set(offered), "the top level gets every controller the root offers")
            #expect(try CgroupV2Mount.list(root + top + "/cgroup.subtree_control").sorted() == topOffers.sorted())
            #expect(try CgroupV2Mount.list(root + top + "/pod1/cgroup.controllers").sorted() == topOffers.sorted())
            #expect(try CgroupV2Mount.list(root + top + "/pod1/cgroup.subtree_control").isEmpty)

            // Children first; the pod's parent stays.
            #expect(mkdir(root + top + "/pod1/c1", 0o755) == 0 && mkdir(root + top + "/pod1/c1/nested", 0o755) == 0)
            try await pod.remove()
            #expect(!FileSystem.exists(root + top + "/pod1"))
            #expect(FileSystem.isDirectory(root + top))
            try await pod.remove()  // idempotent
        } catch {
            try? await PodCgroup(host: host, path: top).remove()
            throw error
        }
        try await PodCgroup(host: host, path: top).remove()
        #expect(!FileSystem.exists(root + top))
    }
}

@Suite(
    "pod cgroups on this host",
    .enabled(if: writableHostCgroups != nil, "needs root and mounted cgroups"))
struct PodCgroupHostTests {
    @Test("create, add, list, remove: every hierarchy, named ones included; children removed first")
    func lifecycle() async throws {
        let host = try #require(writableHostCgroups)
        let top = uniqueCgroupRoot("pod")
        let pod = try PodCgroup(host: host, path: top + "/pod1")
        let sleeper = try spawnSleeper()
        var second: pid_t?
        do {
            try pod.create()
            #expect(pod.directories.allSatisfy(FileSystem.isDirectory), "\(pod.directories)")
            #expect(pod.directories.contains { $0.hasPrefix("/sys/fs/cgroup/memory/") } == (host.hierarchy(of: "memory")?.version == .v1))
            if host.v1Hierarchies.contains(where: { $0.name == "systemd" }) {
                #expect(pod.directories.contains("/sys/fs/cgroup/systemd\(top)/pod1"))
            }
            #expect(try pod.processes().isEmpty)

            // Into the pod's cgroup in every hierarchy (v1 cpuset included: its cpus and mems
            // were copied from the parent, or the kernel would refuse the process).
            try pod.add(pid: sleeper)
            let membership = try cgroupMembership(sleeper)
            for hierarchy in pod.hierarchies {
                let key = hierarchy.version == .v2 ? "" : (hierarchy.name.map { "name=" + $0 } ?? hierarchy.controllers.joined(separator: ","))
                #expect(membership[key] == top + "/pod1", "\(key): \(membership)")
            }
            #expect(try pod.processes() == [sleeper])

            // A container's child cgroup: listed recursively, and removed before the pod's.
            let container = try PodCgroup(host: host, path: try pod.containerCgroupsPath(containerID: "c1"))
            try container.create()
            second = try spawnSleeper()
            try container.add(pid: #require(second))
            #expect(try pod.processes() == [sleeper, #require(second)].sorted())
            #expect(try pod.processes(recursive: false) == [sleeper])

            // Busy: nothing is killed, the error names what is left.
            do {
                try await pod.remove(busyTimeout: .milliseconds(50))
                Issue.record("removing a cgroup with live processes succeeded")
            } catch {
                #expect(error.code == .failedPrecondition)
                #expect(error.message.contains("\(sleeper)"), "\(error.message)")
            }
            #expect(ProcessSpawner.isAlive(sleeper))

            // Killed (and not yet reaped): removal waits for them to leave.
            kill(sleeper, SIGKILL)
            if let second { kill(second, SIGKILL) }
            try await pod.remove()
            #expect(!pod.exists)
            #expect(!container.exists)
            #expect(try pod.processes().isEmpty)
            try await pod.remove()  // idempotent

            #expect(throws: FascoError.self) { try pod.add(pid: getpid()) }  // gone
        } catch {
            await killAndReap(sleeper)
            if let second { await killAndReap(second) }
            try? await PodCgroup(host: host, path: top).remove()
            throw error
        }
        await killAndReap(sleeper)
        if let second { await killAndReap(second) }
        try await PodCgroup(host: host, path: top).remove()
        #expect(try !PodCgroup(host: host, path: top).exists)
    }

    @Test("add of a process that does not exist is notFound")
    func addMissingProcess() async throws {
        let host = try #require(writableHostCgroups)
        let top = uniqueCgroupRoot("pod")
        let pod = try PodCgroup(host: host, path: top)
        try pod.create()
        let gone = try spawnSleeper()
        await killAndReap(gone)
        #expect { try pod.add(pid: gone) } throws: { ($0 as? FascoError)?.code == .notFound }
        try await pod.remove()
    }
}
