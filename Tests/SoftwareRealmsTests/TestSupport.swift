import FascoCore
import SoftwareRealms
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A fresh directory under /var/tmp; remove it with `FileSystem.removeTree`.
func makeTemporaryDirectory(_ prefix: String = "fasco-oci") throws -> String {
    var template = Array("/var/tmp/\(prefix)-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { buffer -> String? in
        guard let base = buffer.baseAddress, let result = mkdtemp(base) else { return nil }
        return String(cString: result)
    }
    guard let made else { throw FascoError.internal("mkdtemp failed: \(FileSystem.errnoText)") }
    return made
}

/// A container ID no other test (or earlier run) uses.
func uniqueID(_ label: String) -> String {
    "fasco-test-\(label)-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
}

func writeText(_ text: String, to path: String, mode: mode_t = 0o644) throws {
    try FileSystem.writeAtomically(Array(text.utf8), to: path, mode: mode)
}

func readText(_ path: String) throws -> String? {
    try FileSystem.read(path).map { String(decoding: $0, as: UTF8.self) }
}

/// Reads `fd` to EOF on a thread of its own and closes it.
func readToEnd(_ fd: Int32) async throws -> String {
    try await BlockingWork.run { () throws(FascoError) -> String in
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count == 0 { return String(decoding: bytes, as: UTF8.self) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .internal("read: \(FileSystem.errnoText)")
            }
            bytes.append(contentsOf: chunk[..<count])
        }
    }
}

/// Reads `fd` until `marker` has been seen (without closing it).
func readUntil(_ fd: Int32, contains marker: String) async throws -> String {
    try await BlockingWork.run { () throws(FascoError) -> String in
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while !String(decoding: bytes, as: UTF8.self).contains(marker) {
            let count = read(fd, &byte, 1)
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                throw .internal("read: \(FileSystem.errnoText)")
            }
            bytes.append(byte)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// JSON string literal for `text`.
func jsonString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 {
                out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}

/// A bundle whose rootfs is Debian's static busybox with sh, echo, sleep and cat.
struct BusyboxBundle {
    let directory: String
    let id: String
    var bundle: String { directory + "/bundle" }
    var rootfs: String { bundle + "/rootfs" }
    var stateRoot: String { directory + "/state" }
    var cgroupsPath: String { "/fasco-test/\(id)" }

    static let busybox = ["/usr/bin/busybox", "/bin/busybox"].first { FileSystem.exists($0) }

    init(id: String, args: [String]) throws {
        self.id = id
        directory = try makeTemporaryDirectory()
        try FileSystem.makeDirectories(rootfs + "/bin", mode: 0o755)
        guard let source = Self.busybox, let binary = try FileSystem.read(source) else {
            throw FascoError.failedPrecondition("busybox is not installed")
        }
        try FileSystem.writeAtomically(binary, to: rootfs + "/bin/busybox", mode: 0o755)
        for applet in ["sh", "echo", "sleep", "cat", "true"] {
            guard symlink("busybox", rootfs + "/bin/\(applet)") == 0 else {
                throw FascoError.internal("symlink \(applet): \(FileSystem.errnoText)")
            }
        }
        try writeText(Self.config(args: args, cgroupsPath: cgroupsPath), to: bundle + "/config.json")
    }

    /// A minimal runtime-spec config: fresh pid, mount, ipc, uts and network namespaces,
    /// proc, a /dev tmpfs with devpts, shm and mqueue, read-only sysfs, no_new_privs, only CAP_KILL.
    static func config(args: [String], cgroupsPath: String) -> String {
        let argv = "[" + args.map(jsonString).joined(separator: ", ") + "]"
        return """
        {
          "ociVersion": "1.0.2",
          "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": \(argv),
            "env": ["PATH=/bin"],
            "cwd": "/",
            "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]},
            "noNewPrivileges": true
          },
          "root": {"path": "rootfs", "readonly": false},
          "hostname": "fasco-test",
          "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}
          ],
          "linux": {
            "resources": {},
            "cgroupsPath": \(jsonString(cgroupsPath)),
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
          }
        }
        """
    }

    func runtime(_ kind: OCIRuntime.Kind) throws -> OCIRuntime {
        try OCIRuntime(kind: kind, stateRoot: stateRoot, timeout: .seconds(30))
    }

    /// The cgroup directories of this container in every mounted hierarchy (which exist now).
    func cgroupDirectories() -> [String] {
        ((try? FileSystem.list("/sys/fs/cgroup")) ?? []).map { "/sys/fs/cgroup/\($0)/fasco-test/\(id)" }
            .filter { FileSystem.isDirectory($0) }
    }

    /// Force-deletes the container, removes its cgroups and the temporary directory.
    func cleanUp(_ runtime: OCIRuntime?) async {
        if let runtime { try? await runtime.delete(id: id, force: true) }
        for directory in cgroupDirectories() { rmdir(directory) }
        try? FileSystem.removeTree(directory)
    }
}

let runningAsRoot = getuid() == 0

/// Real-runtime tests need root and the binary.
func runtimeAvailable(_ kind: OCIRuntime.Kind) -> Bool {
    runningAsRoot && ProcessSpawner.resolve(kind.rawValue, searchPath: ProcessSpawner.defaultSearchPath) != nil
        && BusyboxBundle.busybox != nil
}

/// Polls `state` until the container reports `status` (runtimes notice an exit a moment late).
func waitForStatus(_ runtime: OCIRuntime, _ id: String, _ status: OCIRuntime.State.Status, timeout: Duration = .seconds(10)) async throws -> OCIRuntime.State {
    let deadline = ContinuousClock.now + timeout
    while true {
        let state = try await runtime.state(id: id)
        if state.status == status || ContinuousClock.now >= deadline { return state }
        try await Task.sleep(for: .milliseconds(10))
    }
}

func median(_ values: [Duration]) -> Duration {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .zero }
    return sorted[sorted.count / 2]
}

func milliseconds(_ duration: Duration) -> String {
    let (seconds, attoseconds) = duration.components
    let micros = seconds * 1_000_000 + attoseconds / 1_000_000_000_000
    return "\(micros / 1000).\(String(repeating: "0", count: 3 - String(micros % 1000).count))\(micros % 1000) ms"
}

extension FascoError.Code {
    func matches(_ error: any Error) -> Bool { (error as? FascoError)?.code == self }
}

extension String {
    /// Every occurrence of `target` replaced (no Foundation in this target).
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound] + replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}

/// A software backend for tests: realm directories and runc's state under `root`, the built
/// fasco-realm (or `supervisorBinary`), the host's cgroups.
func makeTestBackend(root: String, network: CNINetwork? = nil, cgroupDriver: OCIRuntime.CgroupDriver = .cgroupfs,
                     supervisorBinary: String? = nil, cgroupRoot: String = "/fasco") throws -> SoftwareBackend {
    guard let binary = supervisorBinary ?? SupervisorFixture.binary else { throw FascoError.notFound("fasco-realm binary not found") }
    let hosts = try HostCgroups.detect()
    return try SoftwareBackend(configuration: .init(
        directory: root + "/realms", supervisorBinary: binary,
        runtime: try OCIRuntime(kind: .runc, stateRoot: root + "/runc", cgroupDriver: cgroupDriver, host: hosts), cgroups: hosts,
        cgroupRoot: cgroupRoot, network: network))
}
