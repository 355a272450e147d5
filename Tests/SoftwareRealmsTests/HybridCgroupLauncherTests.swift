import FascoCore
import RealmCore
import SoftwareRealms
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The hosts whose layout crun refuses: cgroup v1 plus a cgroup v2 mount offering controllers.
private let hybridMountPoints: [String] = (try? HostCgroups.detect())?.mountsHidingHybridFromCrun ?? []

/// What the private-mount-namespace wrapper does for crun on a hybrid host. (Its cost, and the
/// runtimes' start-up times, are measurements: `make bench`, not assertions here.)
@Suite("the hybrid cgroup launcher")
struct HybridCgroupLauncherTests {
    @Test("what it runs sees no cgroup2 mount, and the host keeps its own",
          .enabled(if: runningAsRoot, "needs root (a private mount namespace)"),
          .enabled(if: !hybridMountPoints.isEmpty, "the host is not hybrid with v2 controllers: nothing to hide from crun"))
    func hidesCgroupV2() async throws {
        let launcher = try HybridCgroupLauncher(mountPoints: hybridMountPoints)
        let plain = try await ProcessSpawner.run(launcher.command("/bin/true", arguments: []), timeout: .seconds(10))
        #expect(plain.exit == .exited(0))
        // Inside, no cgroup2 mount is left (grep -c prints 0); the host keeps its own.
        var command = launcher.command("/bin/sh", arguments: ["-c", "grep -c ' - cgroup2 ' /proc/self/mountinfo"])
        command.stdout = .pipe
        command.stderr = .pipe
        let inside = try await ProcessSpawner.run(command, timeout: .seconds(10))
        #expect(inside.stdoutText == "0\n", "\(inside.stderrText)")
        #expect(try MountInfo.current().contains { $0.fileSystemType == "cgroup2" })
    }
}
