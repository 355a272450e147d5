import FascoCore
import FoundationEssentials
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// An OCI runtime binary (crun or runc) driven through its command line (runtime.md
/// "Operations" plus the runc/crun CLI conventions both share).
///
/// Every call runs the binary once with `--root <stateRoot> --log <file> --log-format json`
/// (and `--systemd-cgroup` with the systemd driver); errors are read from that JSON log and
/// become `FascoError`s carrying the runtime's own words. On a hybrid cgroup host, crun's
/// `create` goes through `HybridCgroupLauncher` (crun refuses such hosts otherwise).
public struct OCIRuntime: Sendable {
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        case crun
        case runc
    }

    public enum CgroupDriver: String, Sendable, Equatable {
        case cgroupfs
        case systemd
    }

    /// The container's standard descriptors, inherited by its process through the runtime;
    /// nil is /dev/null. The caller keeps ownership (close your copies after `create`).
    public struct Stdio: Sendable, Equatable {
        public var stdin: Int32?
        public var stdout: Int32?
        public var stderr: Int32?

        public init(stdin: Int32? = nil, stdout: Int32? = nil, stderr: Int32? = nil) {
            self.stdin = stdin
            self.stdout = stdout
            self.stderr = stderr
        }

        public static let null = Stdio()
    }

    public let kind: Kind
    /// Absolute path of the runtime binary.
    public let binary: String
    /// The runtime's state directory (`--root`): one subdirectory per container.
    public let stateRoot: String
    /// Where each call's JSON log is written (and removed once read).
    public let logDirectory: String
    public let cgroupDriver: CgroupDriver
    /// Set when `create` must run in a private mount namespace (crun on a hybrid host).
    public let launcher: HybridCgroupLauncher?
    /// The longest any single runtime call may take before it is killed.
    public var timeout: Duration
    /// Where clean-ups that fail without an error to throw them in are reported.
    public var logger: Logger

    /// - Parameters:
    ///   - binary: the runtime's path; by default `kind`'s name looked up on `PATH` (then the usual sbin/bin directories).
    ///   - logDirectory: by default `<stateRoot>.logs` (a sibling: the runtimes treat every entry of the state root as a container).
    ///   - cgroupDriver: by default systemd when systemd is init, cgroupfs otherwise.
    ///   - host: the detected cgroup layout; detected now when nil.
    public init(
        kind: Kind, binary: String? = nil, stateRoot: String, logDirectory: String? = nil,
        cgroupDriver: CgroupDriver? = nil, host: HostCgroups? = nil, timeout: Duration = .seconds(60),
        logger: Logger = Logger(label: "fasco.runtime")
    ) throws(FascoError) {
        let name = binary ?? kind.rawValue
        guard let path = ProcessSpawner.resolve(name) ?? ProcessSpawner.resolve(name, searchPath: ProcessSpawner.defaultSearchPath) else {
            throw .failedPrecondition("OCI runtime \(name) not found (searched \(ProcessSpawner.searchPath))")
        }
        guard stateRoot.hasPrefix("/"), !stateRoot.contains("\0") else {
            throw .invalidArgument("the runtime state root must be an absolute path: \(stateRoot.debugDescription)")
        }
        let layout: HostCgroups
        if let host { layout = host } else { layout = try HostCgroups.detect() }
        self.kind = kind
        self.binary = path
        self.stateRoot = stateRoot
        self.logDirectory = logDirectory ?? stateRoot + ".logs"
        self.cgroupDriver = cgroupDriver ?? layout.preferredDriver
        let hide = kind == .crun ? layout.mountsHidingHybridFromCrun : []
        self.launcher = hide.isEmpty ? nil : try HybridCgroupLauncher(mountPoints: hide)
        self.timeout = timeout
        self.logger = logger
        try FileSystem.makeDirectories(stateRoot)
        try FileSystem.makeDirectories(self.logDirectory)
    }

    // MARK: operations

    /// runtime.md "Create": sets the container up from `bundle` without starting its process.
    /// Returns the container process's pid, which the runtime writes to `pidFile` (a temporary
    /// file next to the logs when none is given).
    @discardableResult
    public func create(id: String, bundle: String, pidFile: String? = nil, stdio: Stdio = .null) async throws(FascoError) -> Int32 {
        try Self.validate(id: id)
        guard bundle.hasPrefix("/") else { throw .invalidArgument("the bundle path must be absolute: \(bundle.debugDescription)") }
        let log = logFile(id: id, operation: "create")
        defer { unlink(log) }
        let pidPath = pidFile ?? logFile(id: id, operation: "pid")
        defer { if pidFile == nil { unlink(pidPath) } }
        let arguments = globalArguments(log: log) + ["create", "--bundle", bundle, "--pid-file", pidPath, id]

        var command = launcher?.command(binary, arguments: arguments) ?? ProcessSpawner.Command(binary, arguments: arguments)
        command.environment = environment
        command.stdin = stdio.stdin.map { .fd($0) } ?? .null
        command.stdout = stdio.stdout.map { .fd($0) } ?? .null
        command.stderr = stdio.stderr.map { .fd($0) } ?? .null
        // A session of its own, so the container never shares the daemon's process group.
        command.newSession = true
        let started = ContinuousClock.now
        defer { recordDuration("create", since: started) }
        let child: ProcessSpawner.Child
        do {
            child = try ProcessSpawner.spawn(command)
        } catch {
            throw .unavailable("cannot run \(kind.rawValue)", cause: error)
        }
        // Only wait for the runtime to exit: the container holds its stdio open long after.
        guard let exit = try await ProcessSpawner.wait(child.pid, timeout: timeout) else {
            Glibc.kill(-child.pid, SIGKILL)
            do throws(FascoError) {
                _ = try await ProcessSpawner.wait(child.pid)
            } catch {
                logger.cleanUpFailed(
                    "reap the runtime killed at its create's timeout", error: error, container: id,
                    left: "\(kind.rawValue) process \(child.pid), unreaped")
            }
            do throws(FascoError) {
                try await delete(id: id, force: true)
            } catch where error.code == .notFound {
                // The runtime had not got as far as making the container: nothing to delete.
            } catch {
                logger.cleanUpFailed(
                    "delete the container whose create timed out", error: error, container: id, left: "\(stateRoot)/\(id)")
            }
            throw .init(.deadlineExceeded, "\(kind.rawValue) create \(id) did not finish within \(timeout); killed")
        }
        guard exit.succeeded else {
            throw failure(operation: "create", id: id, exit: exit, log: log, output: nil, bundle: bundle)
        }
        // The pid file, else the runtime's state, which says the same.
        if let bytes = try? FileSystem.read(pidPath, limit: 64),
           let pid = Int32(String(decoding: bytes, as: UTF8.self).trimmed), pid > 0 {
            return pid
        }
        return try await state(id: id).pid
    }

    /// runtime.md "Start": runs the process of a created container.
    public func start(id: String) async throws(FascoError) {
        try Self.validate(id: id)
        _ = try await call("start", id: id, arguments: ["start", id])
    }

    /// runtime.md "Query State".
    public func state(id: String) async throws(FascoError) -> State {
        try Self.validate(id: id)
        let output = try await call("state", id: id, arguments: ["state", id])
        do {
            return try JSONDecoder().decode(State.self, from: Data(output.stdout))
        } catch {
            throw .internal("\(kind.rawValue) state \(id) printed something that is not a runtime state: "
                            + "\(Self.describe(error)): \(String(decoding: output.stdout.prefix(512), as: UTF8.self))")
        }
    }

    /// runtime.md "Kill": sends `signal` to the container process, or with `all` to every process in its cgroup.
    public func kill(id: String, signal: Int32 = SIGTERM, all: Bool = false) async throws(FascoError) {
        try Self.validate(id: id)
        guard signal > 0, signal < 65 else { throw .invalidArgument("signal \(signal) is out of range") }
        _ = try await call("kill", id: id, arguments: ["kill"] + (all ? ["--all"] : []) + [id, String(signal)])
    }

    /// runtime.md "Delete": removes a stopped (or, with `force`, any) container and its cgroup.
    public func delete(id: String, force: Bool = false) async throws(FascoError) {
        try Self.validate(id: id)
        _ = try await call("delete", id: id, arguments: ["delete"] + (force ? ["--force"] : []) + [id])
    }

    // MARK: plumbing

    /// The runtime's environment: a known PATH and nothing of the daemon's.
    var environment: [String] { ["PATH=\(ProcessSpawner.searchPath)"] }

    func globalArguments(log: String) -> [String] {
        ["--root", stateRoot, "--log", log, "--log-format", "json"] + (cgroupDriver == .systemd ? ["--systemd-cgroup"] : [])
    }

    func logFile(id: String, operation: String) -> String {
        "\(logDirectory)/\(id)-\(operation)-\(String(UInt64.random(in: 0...UInt64.max), radix: 16)).json"
    }

    /// Runs one short operation (not `create`), capturing its output.
    func call(_ operation: String, id: String, arguments: [String]) async throws(FascoError) -> ProcessSpawner.Output {
        let log = logFile(id: id, operation: operation)
        defer { unlink(log) }
        let command = ProcessSpawner.Command(
            binary, arguments: globalArguments(log: log) + arguments, environment: environment,
            stdout: .pipe, stderr: .pipe, newSession: true)
        let output: ProcessSpawner.Output
        let started = ContinuousClock.now
        defer { recordDuration(operation, since: started) }
        do {
            output = try await ProcessSpawner.run(command, timeout: timeout)
        } catch where error.code == .deadlineExceeded {
            throw error
        } catch {
            throw .unavailable("cannot run \(kind.rawValue) \(operation)", cause: error)
        }
        guard output.exit.succeeded else {
            throw failure(operation: operation, id: id, exit: output.exit, log: log, output: output, bundle: nil)
        }
        return output
    }

    /// Container IDs as runc accepts them (`^[\w+-\.]+$`), and never starting with `-`, which
    /// would read as an option.
    static func validate(id: String) throws(FascoError) {
        guard !id.isEmpty, id.utf8.count <= 1024, id != ".", id != "..", id.first != "-",
              id.utf8.allSatisfy({ byte in
                  (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                      || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_")
                      || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
              })
        else { throw .invalidArgument("invalid container ID \(id.debugDescription): use letters, digits, _ + - . (not starting with -)") }
    }
}
