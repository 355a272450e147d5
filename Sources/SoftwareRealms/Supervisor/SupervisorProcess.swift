import FascoCore
import Logging
import RealmCore
#if canImport(Glibc)
import Glibc
#endif

/// A running realm supervisor (`fasco-realm`): the process behind a System Realm of the
/// software backend. It owns the pod's network, IPC and UTS namespaces, is the subreaper of
/// the pod's container processes, writes their logs and records their exits; it outlives the
/// daemon that launched it (own session, SIGHUP ignored), which finds it again with `attach`.
/// With `Namespaces.pid` it also makes a PID namespace for the pod (CRI's NamespaceMode POD,
/// kubelet's shareProcessNamespace) whose PID 1 is a pause child of the supervisor. With
/// `Namespaces.user` that pause child holds a new user namespace with the given ID mappings,
/// and the pod's network, IPC and UTS namespaces, made by it and so owned by that user
/// namespace (the supervisor itself stays in the host's).
public struct SupervisorProcess: Sendable, Equatable {
    /// Which namespaces the supervisor makes for the realm (the others it shares with the host).
    public struct Namespaces: Sendable, Equatable {
        public var network: Bool
        public var ipc: Bool
        public var uts: Bool
        /// A PID namespace shared by the pod's containers (`fasco-realm --new-pidns`). Off by
        /// default: each container then gets a PID namespace of its own from the runtime.
        public var pid: Bool
        /// A user namespace for the pod (`fasco-realm --userns`) with these mappings; nil: the host's.
        public var user: UserNamespace?
        /// The network namespace to join (`fasco-realm --netns PATH`, a bound namespace) instead
        /// of making one; needs `network` and no `user`.
        public var networkPath: String?

        public init(network: Bool = true, ipc: Bool = true, uts: Bool = true, pid: Bool = false, user: UserNamespace? = nil,
                    networkPath: String? = nil) {
            self.network = network
            self.ipc = ipc
            self.uts = uts
            self.pid = pid
            self.user = user
            self.networkPath = networkPath
        }
    }

    /// One line of a uid_map or gid_map: `size` IDs from `containerID` inside are `hostID`... outside.
    public typealias IDMapping = SystemRealmRequest.IDMapping
    /// The ID mappings of a realm's user namespace (1 to 8 of each, as the kernel and fasco-realm take them).
    public typealias UserNamespace = SystemRealmRequest.UserNamespace

    public let pid: pid_t
    /// The realm's state directory: control.sock, pid, pidns-pid, exits/, supervisor.log.
    public let directory: String
    /// The host pid of PID 1 of the realm's shared PID namespace (the supervisor's pause
    /// child), nil when the realm has none (or it died before it was read).
    public let pidNamespaceInit: pid_t?
    /// The host pid of the pause child holding the realm's user namespace (and the network,
    /// IPC and UTS namespaces it owns), nil when the realm uses the host's user namespace.
    public let userNamespaceHolder: pid_t?

    public init(pid: pid_t, directory: String, pidNamespaceInit: pid_t? = nil, userNamespaceHolder: pid_t? = nil) {
        self.pid = pid
        self.directory = directory
        self.pidNamespaceInit = pidNamespaceInit
        self.userNamespaceHolder = userNamespaceHolder
    }

    /// The supervisor found in `directory` with its pause children as it recorded them.
    static func recorded(pid: pid_t, directory: String) -> SupervisorProcess {
        SupervisorProcess(
            pid: pid, directory: directory,
            pidNamespaceInit: readPauseChild(directory: directory, file: "pidns-pid", supervisor: pid),
            userNamespaceHolder: readPauseChild(directory: directory, file: "userns-pid", supervisor: pid))
    }

    public var client: SupervisorClient { SupervisorClient(directory: directory) }

    /// `/proc/PID/ns/net`, `ipc` or `uts`: what containers of the realm join (PID is the
    /// user namespace's holder when the realm has one, else the supervisor).
    public func namespacePath(_ name: String) -> String { "/proc/\(userNamespaceHolder ?? pid)/ns/\(name)" }

    /// `/proc/HOLDER/ns/user`: the realm's user namespace, nil when it uses the host's.
    public var userNamespacePath: String? { userNamespaceHolder.map { "/proc/\($0)/ns/user" } }

    /// `/proc/INIT/ns/pid`: the PID namespace the realm's containers join when they share one
    /// (OCI `{"type": "pid", "path": ...}`); nil when the realm has none. Valid while the
    /// supervisor runs: it kills the namespace on shutdown, and once the namespace's init died
    /// (which kills every process in it) the supervisor refuses creates.
    public var pidNamespacePath: String? { pidNamespaceInit.map { "/proc/\($0)/ns/pid" } }

    /// Starts `binary` (fasco-realm) for the realm whose state lives in `directory` (which
    /// must exist) and returns once it serves its control socket. `logger` (carrying the
    /// realm's metadata) hears of what a failed launch could not stop.
    public static func launch(
        binary: String, directory: String, hostname: String?, namespaces: Namespaces = Namespaces(),
        hiddenMounts: [String] = [], timeout: Duration = .seconds(10), logger: Logger = Logger(label: "fasco.supervisor")
    ) async throws(FascoError) -> SupervisorProcess {
        guard binary.hasPrefix("/") else { throw .invalidArgument("the realm supervisor binary must be an absolute path: \(binary)") }
        if let hostname {
            guard !hostname.isEmpty, hostname.utf8.count <= 64 else { throw .invalidArgument("hostname \(hostname.debugDescription) must have 1-64 bytes") }
            guard namespaces.uts else { throw .invalidArgument("a hostname needs a UTS namespace of the realm's own") }
        }
        var arguments = ["--dir", directory]
        if let hostname { arguments += ["--hostname", hostname] }
        if !namespaces.network { arguments.append("--no-new-netns") }
        if let path = namespaces.networkPath {
            guard path.hasPrefix("/"), namespaces.network, namespaces.user == nil else {
                throw .invalidArgument("a realm joins a network namespace by absolute path, and only without a user namespace: \(path)")
            }
            arguments += ["--netns", path]
        }
        if !namespaces.ipc { arguments.append("--no-new-ipcns") }
        if !namespaces.uts { arguments.append("--no-new-utsns") }
        if namespaces.pid { arguments.append("--new-pidns") }
        guard hiddenMounts.count <= 8, hiddenMounts.allSatisfy({ $0.hasPrefix("/") }) else {
            throw .invalidArgument("at most 8 absolute mount points can be hidden from a realm: \(hiddenMounts)")
        }
        for mount in hiddenMounts { arguments += ["--hide-mount", mount] }
        if let user = namespaces.user {
            guard (1...8).contains(user.uids.count), (1...8).contains(user.gids.count) else {
                throw .invalidArgument("a realm's user namespace takes 1 to 8 UID and GID mappings each")
            }
            for mapping in user.uids + user.gids {
                guard mapping.size > 0, UInt64(mapping.containerID) + UInt64(mapping.size) <= 1 << 32,
                      UInt64(mapping.hostID) + UInt64(mapping.size) <= 1 << 32
                else { throw .invalidArgument("ID mapping \(mapping.argument) is empty or out of range") }
            }
            arguments.append("--userns")
            for mapping in user.uids { arguments += ["--uid-map", mapping.argument] }
            for mapping in user.gids { arguments += ["--gid-map", mapping.argument] }
        }
        let process = try await launch(executable: binary, arguments: arguments, directory: directory, timeout: timeout, logger: logger)
        if (namespaces.pid && process.pidNamespaceInit == nil) || (namespaces.user != nil && process.userNamespaceHolder == nil) {
            // Ready, yet its pause child is gone already: the realm is unusable. A supervisor
            // that outlives this is shut down again by the failed start's teardown (found by its pid file).
            kill(process.pid, SIGTERM)
            do throws(FascoError) {
                if try await !process.waitForExit(timeout: .seconds(10)) {
                    throw FascoError(.deadlineExceeded, "still running 10 s after SIGTERM")
                }
            } catch {
                logger.cleanUpFailed(
                    "stop the supervisor whose pause child is gone", error: error, left: "supervisor \(process.pid)", retried: true)
            }
            throw .internal("the realm supervisor for \(directory) started, but its pause child (PID or user namespace) is gone")
        }
        return process
    }

    /// The supervisor a previous daemon launched for `directory`, if it is still running.
    public static func attach(directory: String) throws(FascoError) -> SupervisorProcess? {
        guard let pid = try readPID(directory: directory), isAlive(pid), isSupervisor(pid) else { return nil }
        return recorded(pid: pid, directory: directory)
    }

    /// Whether a supervisor serves `directory` now. A pid file that cannot be read (damaged)
    /// counts as none: `attach` cannot reach a supervisor through it either.
    static func isRunning(directory: String) -> Bool {
        (try? attach(directory: directory)) != nil
    }

    /// Waits until the supervisor has exited (reaping it if it is this process's child).
    /// Returns false when it is still running at the deadline.
    public func waitForExit(timeout: Duration = .seconds(10)) async throws(FascoError) -> Bool {
        let pid = self.pid
        return try await BlockingWork.run { () throws(FascoError) -> Bool in
            let deadline = ContinuousClock.now + timeout
            while true {
                var status: Int32 = 0
                let reaped = waitpid(pid, &status, WNOHANG)
                if reaped == pid { return true }
                // Not a child (launched through an intermediate, or by an earlier daemon): it is
                // gone, or a zombie its new parent has not reaped yet.
                if reaped < 0 && errno == ECHILD && !Self.isAlive(pid) { return true }
                if ContinuousClock.now >= deadline { return false }
                usleep(2_000)
            }
        }
    }

    /// DIR/pid, or nil when there is none.
    static func readPID(directory: String) throws(FascoError) -> pid_t? {
        guard let bytes = try FileSystem.read("\(directory)/pid", limit: 64) else { return nil }
        let text = String(decoding: bytes, as: UTF8.self).trimming(" \n")
        guard let pid = pid_t(text), pid > 0 else { throw .internal("\(directory)/pid holds no pid: \(text.debugDescription)") }
        return pid
    }

    /// DIR/FILE (pidns-pid, userns-pid) when it names a live child of `supervisor` (the pause
    /// child), else nil: missing, unreadable, malformed, or left behind by a dead supervisor (a
    /// pid possibly reused since).
    static func readPauseChild(directory: String, file: String, supervisor: pid_t) -> pid_t? {
        guard let bytes = try? FileSystem.read("\(directory)/\(file)", limit: 64),
            let pid = pid_t(String(decoding: bytes, as: UTF8.self).trimming(" \n")), pid > 0,
            isAlive(pid), parent(of: pid) == supervisor
        else { return nil }
        return pid
    }

    /// The PPid of `pid` as /proc/PID/status tells it, nil when it cannot be read.
    static func parent(of pid: pid_t) -> pid_t? {
        ProcFS.read("status", of: String(pid)).flatMap { ProcFS.field("PPid", status: $0) }.flatMap { pid_t($0) }
    }

    /// Whether `pid` exists and is not a zombie (a stat that cannot be read: it does not exist).
    static func isAlive(_ pid: pid_t) -> Bool {
        guard let state = ProcFS.state(of: pid) else { return false }
        return state != "Z" && state != "X"
    }

    /// Whether `pid` is the fasco-realm of `directory` (its command line says `--dir DIRECTORY`),
    /// not a process that took over a dead supervisor's pid, nor another realm's supervisor.
    /// A command line that cannot be read (the process is gone) says no.
    static func serves(directory: String, pid: pid_t) -> Bool {
        guard isSupervisor(pid), let bytes = try? FileSystem.read("/proc/\(pid)/cmdline", limit: 65536) else { return false }
        let arguments = bytes.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        return zip(arguments, arguments.dropFirst()).contains { $0 == "--dir" && $1 == directory }
    }

    /// Whether `pid` runs a fasco-realm binary (so that a reused pid is not mistaken for it).
    static func isSupervisor(_ pid: pid_t) -> Bool {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/\(pid)/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return false }
        let target = String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let name = target.split(separator: "/").last.map(String.init) ?? target
        return name.hasPrefix("fasco-realm")
    }
}

extension String {
    fileprivate func trimming(_ set: String) -> String {
        var text = Substring(self)
        while let first = text.first, set.contains(first) { text = text.dropFirst() }
        while let last = text.last, set.contains(last) { text = text.dropLast() }
        return String(text)
    }
}

extension SystemRealmRequest.IDMapping {
    /// `C:H:L`, as fasco-realm's --uid-map and --gid-map take it.
    var argument: String { "\(containerID):\(hostID):\(size)" }
}
