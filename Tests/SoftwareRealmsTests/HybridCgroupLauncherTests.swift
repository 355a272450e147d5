import FascoCore
import SoftwareRealms
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Informational only: medians printed to the test log, nothing asserted about time.
@Suite("OCI runtime timings", .serialized)
struct RuntimeTimingTests {
    @Test("create + start + wait of `echo` with crun and runc (median of 15)", .enabled(if: runningAsRoot))
    func echoStartup() async throws {
        var report: [String] = []
        for kind in OCIRuntime.Kind.allCases where runtimeAvailable(kind) {
            let box = try BusyboxBundle(id: uniqueID("time-\(kind)"), args: ["/bin/echo", "hi"])
            let runtime = try box.runtime(kind)
            var samples: [Duration] = []
            var creates: [Duration] = []
            var starts: [Duration] = []
            do {
                for round in 0..<16 {
                    let id = "\(box.id)-\(round)"
                    try writeText(BusyboxBundle.config(args: ["/bin/echo", "hi"], cgroupsPath: "/fasco-test/\(id)"), to: box.bundle + "/config.json")
                    let started = ContinuousClock.now
                    let pid = try await runtime.create(id: id, bundle: box.bundle)
                    let created = ContinuousClock.now
                    try await runtime.start(id: id)
                    let startReturned = ContinuousClock.now
                    #expect(await ProcessSpawner.waitForExit(ofProcess: pid, timeout: .seconds(10)))
                    let elapsed = ContinuousClock.now - started
                    if round > 0 {  // the first warms caches
                        samples.append(elapsed)
                        creates.append(created - started)
                        starts.append(startReturned - created)
                    }
                    try await runtime.delete(id: id, force: true)
                    for hierarchy in (try? FileSystem.list("/sys/fs/cgroup")) ?? [] { rmdir("/sys/fs/cgroup/\(hierarchy)/fasco-test/\(id)") }
                }
            } catch {
                await box.cleanUp(runtime)
                throw error
            }
            await box.cleanUp(runtime)
            report.append("\(kind)\(runtime.launcher == nil ? "" : " (via unshare wrapper)") \(milliseconds(median(samples)))"
                          + " [create \(milliseconds(median(creates))), start \(milliseconds(median(starts)))]")
        }
        print("timing: create+start+exit of echo, median of 15: " + report.joined(separator: ", "))
    }

    @Test("what the private-mount-namespace wrapper costs (median of 15)")
    func wrapperOverhead() async throws {
        let host = try HostCgroups.detect()
        let mountPoints = host.mountsHidingHybridFromCrun
        guard runningAsRoot, !mountPoints.isEmpty else { return }
        let launcher = try HybridCgroupLauncher(mountPoints: mountPoints)
        var direct: [Duration] = []
        var wrapped: [Duration] = []
        for _ in 0..<16 {
            let start = ContinuousClock.now
            let plain = try await ProcessSpawner.run(.init("/bin/true"), timeout: .seconds(10))
            direct.append(ContinuousClock.now - start)
            let wrapStart = ContinuousClock.now
            let inside = try await ProcessSpawner.run(launcher.command("/bin/true", arguments: []), timeout: .seconds(10))
            wrapped.append(ContinuousClock.now - wrapStart)
            #expect(plain.exit == .exited(0) && inside.exit == .exited(0))
        }
        direct.removeFirst()
        wrapped.removeFirst()
        // Inside, no cgroup2 mount is left (grep -c prints 0); the host keeps its own.
        var command = launcher.command("/bin/sh", arguments: ["-c", "grep -c ' - cgroup2 ' /proc/self/mountinfo"])
        command.stdout = .pipe
        command.stderr = .pipe
        let inside = try await ProcessSpawner.run(command, timeout: .seconds(10))
        #expect(inside.stdoutText == "0\n", "\(inside.stderrText)")
        #expect(try MountInfo.current().contains { $0.fileSystemType == "cgroup2" })
        print("timing: /bin/true direct \(milliseconds(median(direct))), through the unshare wrapper \(milliseconds(median(wrapped)))")
    }
}
