import FascoCore
import FoundationEssentials
@testable import SoftwareRealms
import Testing

@Suite("OCI runtime configuration")
struct OCIRuntimeConfigurationTests {
    private func host(_ mode: HostCgroups.Mode, v2Controllers: [String], systemd: Bool = false) -> HostCgroups {
        var hierarchies: [HostCgroups.Hierarchy] = []
        if mode == .hybrid || mode == .legacy {
            hierarchies.append(.init(version: .v1, mountPoint: "/sys/fs/cgroup/memory", controllers: ["memory"]))
        }
        if mode == .hybrid { hierarchies.append(.init(version: .v2, mountPoint: "/sys/fs/cgroup/unified", controllers: v2Controllers)) }
        if mode == .unified { hierarchies.append(.init(version: .v2, mountPoint: "/sys/fs/cgroup", controllers: v2Controllers)) }
        return HostCgroups(root: "/sys/fs/cgroup", mode: mode, hierarchies: hierarchies, kernelSupportsV1: true,
                           kernelSupportsV2: true, kernelControllers: [], systemdRunning: systemd)
    }

    private func runtime(_ kind: OCIRuntime.Kind, _ host: HostCgroups, driver: OCIRuntime.CgroupDriver? = nil) throws -> (OCIRuntime, String) {
        let directory = try makeTemporaryDirectory()
        // /bin/true stands in for the binary: nothing is run here.
        return (try OCIRuntime(kind: kind, binary: "/bin/true", stateRoot: directory + "/state", cgroupDriver: driver, host: host), directory)
    }

    @Test("only crun on a hybrid host whose v2 mount offers controllers goes through the wrapper")
    func launcherChoice() throws {
        let cases: [(OCIRuntime.Kind, HostCgroups, Bool)] = [
            (.crun, host(.hybrid, v2Controllers: ["hugetlb"]), true),
            (.crun, host(.hybrid, v2Controllers: []), false),
            (.crun, host(.unified, v2Controllers: ["memory", "pids"]), false),
            (.crun, host(.legacy, v2Controllers: []), false),
            (.runc, host(.hybrid, v2Controllers: ["hugetlb"]), false),
        ]
        for (kind, layout, wrapped) in cases {
            let (runtime, directory) = try runtime(kind, layout)
            defer { try? FileSystem.removeTree(directory) }
            #expect((runtime.launcher != nil) == wrapped, "\(kind) on \(layout.mode)")
            if let launcher = runtime.launcher {
                #expect(launcher.mountPoints == ["/sys/fs/cgroup/unified"])
                let command = launcher.command("/usr/bin/crun", arguments: ["create", "x"])
                #expect(command.arguments.starts(with: ["--mount", "--propagation", "unchanged", "--"]))
                #expect(command.arguments.suffix(4) == ["--", "/usr/bin/crun", "create", "x"])
            }
        }
    }

    @Test("global options: --root, a per-call JSON log, --systemd-cgroup only with the systemd driver")
    func globalOptions() throws {
        let (cgroupfs, first) = try runtime(.runc, host(.unified, v2Controllers: [], systemd: false))
        defer { try? FileSystem.removeTree(first) }
        #expect(cgroupfs.cgroupDriver == .cgroupfs)
        #expect(cgroupfs.globalArguments(log: "/l") == ["--root", cgroupfs.stateRoot, "--log", "/l", "--log-format", "json"])
        #expect(cgroupfs.logDirectory == cgroupfs.stateRoot + ".logs")
        #expect(FileSystem.isDirectory(cgroupfs.stateRoot) && FileSystem.isDirectory(cgroupfs.logDirectory))

        let (systemd, second) = try runtime(.crun, host(.unified, v2Controllers: [], systemd: true))
        defer { try? FileSystem.removeTree(second) }
        #expect(systemd.cgroupDriver == .systemd)
        #expect(systemd.globalArguments(log: "/l").last == "--systemd-cgroup")

        let (forced, third) = try runtime(.crun, host(.unified, v2Controllers: [], systemd: true), driver: .cgroupfs)
        defer { try? FileSystem.removeTree(third) }
        #expect(!forced.globalArguments(log: "/l").contains("--systemd-cgroup"))
    }

    @Test("a missing runtime binary or a relative state root is refused")
    func refused() {
        #expect { try OCIRuntime(kind: .crun, binary: "no-such-runtime-binary", stateRoot: "/tmp/x", host: host(.unified, v2Controllers: [])) }
            throws: { FascoError.Code.failedPrecondition.matches($0) }
        #expect { try OCIRuntime(kind: .crun, binary: "/bin/true", stateRoot: "relative", host: host(.unified, v2Controllers: [])) }
            throws: { FascoError.Code.invalidArgument.matches($0) }
    }

    @Test("state output decodes from both runtimes' shapes; unknown statuses are kept")
    func stateDecoding() throws {
        let crun = #"{"ociVersion": "1.0.0", "id": "a", "pid": 5623, "status": "created", "bundle": "/b", "rootfs": "rootfs", "created": "2026-11-22T05:07:44.539826Z", "systemd-scope": "", "owner": "root"}"#
        let runc = #"{"ociVersion": "1.0.2-dev", "id": "b", "pid": 0, "status": "stopped", "bundle": "/c", "rootfs": "/c/rootfs", "created": "2026-11-22T05:07:44Z", "owner": "", "annotations": {"k": "v"}}"#
        let odd = #"{"id": "c", "status": "frozen-ish", "bundle": "/d"}"#
        let decoder = JSONDecoder()
        let a = try decoder.decode(OCIRuntime.State.self, from: Data(crun.utf8))
        #expect(a == OCIRuntime.State(ociVersion: "1.0.0", id: "a", status: .created, pid: 5623, bundle: "/b"))
        let b = try decoder.decode(OCIRuntime.State.self, from: Data(runc.utf8))
        #expect(b.status == .stopped && b.pid == 0 && b.annotations == ["k": "v"])
        let c = try decoder.decode(OCIRuntime.State.self, from: Data(odd.utf8))
        #expect(c.status == .other("frozen-ish") && c.pid == 0)
        #expect(throws: (any Error).self) { try decoder.decode(OCIRuntime.State.self, from: Data(#"{"id": "x", "status": "running", "pid": 99999999999}"#.utf8)) }
    }

    @Test("JSON log lines: error messages are picked out, plain text is kept")
    func logParsing() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileSystem.removeTree(directory) }
        let path = directory + "/log.json"
        try writeText("""
            {"level":"warning","msg":"ignored","time":"t"}
            {"msg":"container `x` already exists","level":"error","time":"t"}
            plain text from before the logger
            {"level":"fatal","msg":"second"}
            """, to: path)
        #expect(OCIRuntime.errorMessages(inLog: path) == ["container `x` already exists", "plain text from before the logger", "second"])
        #expect(OCIRuntime.errorMessages(inLog: directory + "/absent").isEmpty)
    }

    @Test("container IDs are checked before any runtime runs", arguments: ["", ".", "..", "-x", "a/b", "a b", "ü", String(repeating: "a", count: 1025)])
    func invalidIDs(id: String) {
        #expect { try OCIRuntime.validate(id: id) } throws: { FascoError.Code.invalidArgument.matches($0) }
    }

    @Test("valid IDs", arguments: ["a", "k8s_pod.1+x-y", String(repeating: "f", count: 64)])
    func validIDs(id: String) throws {
        try OCIRuntime.validate(id: id)
    }
}
