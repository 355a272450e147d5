import FascoCore
import Foundation
import SoftwareRealms

/// The OCI runtimes' start-up floor under Fasco's wrapper (create + start + exit of busybox
/// `echo`, with crun and runc) and what the private-mount-namespace wrapper that hides a hybrid
/// host's cgroup v2 mount from crun costs: medians of 15, after one warm-up round. (These were
/// informational "tests" that asserted nothing; measurements belong here.)
func runtimeBenchmark() async throws {
    print("== runtime start-up (median of 15)")
    guard getuid() == 0 else { return print("skipped: needs root") }
    guard let busybox = ["/usr/bin/busybox", "/bin/busybox"].first(where: { FileManager.default.fileExists(atPath: $0) }) else {
        return print("skipped: busybox is not installed")
    }
    let host = try HostCgroups.detect()
    for kind in OCIRuntime.Kind.allCases {
        guard ProcessSpawner.resolve(kind.rawValue, searchPath: ProcessSpawner.defaultSearchPath) != nil else {
            print("\(kind): not installed")
            continue
        }
        let directory = try makeDirectory("runtime-\(kind)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let bundle = directory.appendingPathComponent("bundle").path
        try FileManager.default.createDirectory(atPath: bundle + "/rootfs/bin", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: busybox, toPath: bundle + "/rootfs/bin/busybox")
        try FileManager.default.createSymbolicLink(atPath: bundle + "/rootfs/bin/echo", withDestinationPath: "busybox")
        let runtime = try OCIRuntime(kind: kind, stateRoot: directory.appendingPathComponent("state").path, host: host, timeout: .seconds(30))
        var total: [Duration] = [], creates: [Duration] = [], starts: [Duration] = []
        for round in 0..<16 {
            let id = "fasco-bench-\(kind)-\(getpid())-\(round)"
            let cgroup = "/fasco-bench/\(id)"
            try echoConfig(cgroupsPath: cgroup).write(toFile: bundle + "/config.json", atomically: true, encoding: .utf8)
            let began = ContinuousClock.now
            let pid = try await runtime.create(id: id, bundle: bundle)
            let created = ContinuousClock.now
            try await runtime.start(id: id)
            let started = ContinuousClock.now
            _ = await ProcessSpawner.waitForExit(ofProcess: pid, timeout: .seconds(10))
            let exited = ContinuousClock.now
            try await runtime.delete(id: id, force: true)
            for hierarchy in host.hierarchies { rmdir(hierarchy.mountPoint + cgroup) }
            if round > 0 {
                total.append(exited - began)
                creates.append(created - began)
                starts.append(started - created)
            }
        }
        for hierarchy in host.hierarchies { rmdir(hierarchy.mountPoint + "/fasco-bench") }
        print("\(kind)\(runtime.launcher == nil ? "" : " (through the hybrid-cgroup wrapper)"): create+start+exit \(ms(median(total)))"
              + " [create \(ms(median(creates))), start \(ms(median(starts)))]")
    }

    let hidden = host.mountsHidingHybridFromCrun
    guard !hidden.isEmpty else { return print("wrapper: not used on this host (not hybrid with v2 controllers)") }
    let launcher = try HybridCgroupLauncher(mountPoints: hidden)
    var direct: [Duration] = [], wrapped: [Duration] = []
    for round in 0..<16 {
        let began = ContinuousClock.now
        _ = try await ProcessSpawner.run(.init("/bin/true"), timeout: .seconds(10))
        let middle = ContinuousClock.now
        _ = try await ProcessSpawner.run(launcher.command("/bin/true", arguments: []), timeout: .seconds(10))
        let end = ContinuousClock.now
        if round > 0 {
            direct.append(middle - began)
            wrapped.append(end - middle)
        }
    }
    print("wrapper: /bin/true direct \(ms(median(direct))), through the wrapper \(ms(median(wrapped)))")
}

private func ms(_ duration: Duration) -> String { String(format: "%.2f ms", seconds(duration) * 1000) }

/// A minimal runtime-spec config running `echo hi` in fresh namespaces.
private func echoConfig(cgroupsPath: String) -> String {
    """
    {"ociVersion": "1.0.2",
     "process": {"terminal": false, "user": {"uid": 0, "gid": 0}, "args": ["/bin/echo", "hi"], "env": ["PATH=/bin"], "cwd": "/",
                 "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]}, "noNewPrivileges": true},
     "root": {"path": "rootfs", "readonly": false},
     "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}],
     "linux": {"resources": {}, "cgroupsPath": "\(cgroupsPath)",
               "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]}}
    """
}
