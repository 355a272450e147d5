import FascoCore
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// A pod's cgroup under the cgroupfs driver: one directory per mounted hierarchy, all at the
/// same relative path ("/fasco/<podID>"). The pod's containers get child cgroups
/// ("/fasco/<podID>/<containerID>") from their OCI runtime, which creates them itself from
/// the spec's `linux.cgroupsPath` (see `containerCgroupsPath`).
///
/// The hierarchies are every writable cgroup mount `HostCgroups` found:
/// - each v1 hierarchy, with controllers (`memory`, `cpu,cpuacct`, ...) or named (`name=systemd`);
/// - the v2 hierarchy: the cgroup root on a unified host, `/sys/fs/cgroup/unified` on a hybrid
///   one (runc puts containers there too on a hybrid host, so their cgroups below the pod's
///   must be removable from here).
///
/// On a unified (pure v2) host `create` also enables, in `cgroup.subtree_control` of every
/// ancestor of the pod's cgroup, the controllers that ancestor offers, so that the pod's cgroup
/// has them. It does not enable them below the pod: v2 forbids processes in a cgroup that
/// delegates controllers to its children, and the pod's cgroup may hold processes (`add`);
/// the runtime enables what the containers' cgroups need when it creates them (runc and crun
/// do), which then requires the pod's cgroup itself to be empty.
///
/// That is also why the pod's own processes (its supervisor and pause child,
/// `addRealmProcess`) live in the leaf `<pod>/fasco-realm` of the v2 hierarchy: a process in
/// the pod's cgroup itself would keep the runtime from handing controllers to the containers'
/// cgroups (runc then leaves them without any, so their limits cannot be set). In the v1
/// hierarchies they stay in the pod's cgroup, where that rule does not exist.
///
/// Only the cgroupfs driver: with the systemd driver the pod is a slice that systemd creates
/// and removes (over D-Bus), not a directory anyone may make.
public struct PodCgroup: Sendable, Equatable {
    /// The layout the directories are made in.
    public let host: HostCgroups
    /// The cgroup's path relative to each hierarchy's root, normalized ("/fasco/pod1").
    public let path: String

    /// - Parameter path: absolute, not the root cgroup, without "." or ".." components.
    public init(host: HostCgroups, path: String) throws(FascoError) {
        self.host = host
        self.path = try CgroupPath.normalized(path, allowRoot: false)
    }

    /// The hierarchies the cgroup lives in: every writable mount, v1 and v2, in mount order.
    public var hierarchies: [HostCgroups.Hierarchy] { host.hierarchies.filter { !$0.readOnly } }

    /// The cgroup's directory in every hierarchy it lives in.
    public var directories: [String] { hierarchies.map(directory(in:)) }

    public func directory(in hierarchy: HostCgroups.Hierarchy) -> String {
        CgroupPath.directory(mountPoint: hierarchy.mountPoint, path: path)
    }

    /// The `linux.cgroupsPath` for a container of this pod under the cgroupfs driver:
    /// "<path>/<containerID>".
    public func containerCgroupsPath(containerID: String) throws(FascoError) -> String {
        try Self.containerCgroupsPath(parent: path, containerID: containerID, driver: .cgroupfs)
    }

    /// True when the cgroup's directory exists in at least one hierarchy.
    public var exists: Bool { directories.contains { FileSystem.isDirectory($0) } }

    // MARK: create

    /// Makes the cgroup's directory (and missing parents) in every hierarchy. Idempotent: what
    /// exists already is kept. On failure the directories this call made are removed again;
    /// one that cannot be is reported to `logger` (nothing else knows of it).
    ///
    /// v1 cpuset: a new cgroup starts with empty `cpuset.cpus` and `cpuset.mems`, which refuses
    /// every process; both are copied from the parent (as runc does). Unified host: see the
    /// type's notes on `cgroup.subtree_control` (best effort per controller).
    public func create(logger: Logger = Logger(label: "fasco.cgroups")) throws(FascoError) {
        guard !hierarchies.isEmpty else { throw .failedPrecondition("no writable cgroup hierarchy is mounted") }
        var made: [String] = []
        do throws(FascoError) {
            for hierarchy in hierarchies {
                let isCpuset = hierarchy.version == .v1 && hierarchy.controllers.contains("cpuset")
                var current = hierarchy.mountPoint
                guard FileSystem.isDirectory(current) else {
                    throw .failedPrecondition("cgroup mount \(current) is not a directory")
                }
                for component in path.split(separator: "/") {
                    let parent = current
                    current += "/" + component
                    if mkdir(current, 0o755) == 0 {
                        made.append(current)
                        if isCpuset { try inheritCpuset(parent: parent, child: current) }
                    } else if errno != EEXIST {
                        throw .internal("cannot create cgroup \(current): \(FileSystem.errnoText)")
                    }
                }
                if hierarchy.version == .v2 && host.mode == .unified { enableControllers(in: hierarchy) }
            }
        } catch {
            for directory in made.reversed() {
                guard rmdir(directory) != 0 && errno != ENOENT else { continue }
                logger.cleanUpFailed(
                    "remove a cgroup made by a failed create", error: FascoError.internal(FileSystem.errnoText), left: directory)
            }
            throw error
        }
    }

    private func inheritCpuset(parent: String, child: String) throws(FascoError) {
        for name in ["cpuset.cpus", "cpuset.mems"] {
            let own = try CgroupPath.read("\(child)/\(name)") ?? ""
            guard own.allSatisfy(\.isWhitespace) else { continue }
            guard let inherited = try CgroupPath.read("\(parent)/\(name)"), !inherited.allSatisfy(\.isWhitespace) else { continue }
            let status = CgroupPath.write(inherited, to: "\(child)/\(name)")
            guard status == 0 else {
                throw .internal("cannot copy \(parent)/\(name) to \(child): \(String(cString: strerror(status)))")
            }
        }
    }

    /// From the v2 root down to the pod's parent: each level delegates what it offers.
    private func enableControllers(in hierarchy: HostCgroups.Hierarchy) {
        var current = hierarchy.mountPoint
        for component in path.split(separator: "/") {
            // Best effort (see the type's notes): a level that cannot say what it offers delegates nothing.
            let offered = ((try? CgroupPath.read("\(current)/cgroup.controllers")) ?? nil)?
                .split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init) ?? []
            let control = "\(current)/cgroup.subtree_control"
            // All at once; when that fails (one controller cannot be enabled), one by one.
            if !offered.isEmpty, CgroupPath.write(offered.map { "+" + $0 }.joined(separator: " "), to: control) != 0 {
                for controller in offered { _ = CgroupPath.write("+" + controller, to: control) }
            }
            current += "/" + component
        }
    }

    // MARK: processes

    /// Moves the process `pid` (all its threads) into the cgroup in every hierarchy, or with
    /// `controllers` only in the hierarchies that hold one of them (each move costs a
    /// synchronisation of the whole cgroup subsystem on v1, about a millisecond here).
    /// Throws `.notFound` when there is no such process; a failure part way leaves the
    /// process in the hierarchies done so far.
    public func add(pid: pid_t, controllers: Set<String>? = nil) throws(FascoError) {
        guard pid > 0 else { throw .invalidArgument("not a process ID: \(pid)") }
        let chosen = hierarchies.filter { hierarchy in controllers.map { !$0.isDisjoint(with: hierarchy.controllers) } ?? true }
        for directory in chosen.map(directory(in:)) { try Self.move(pid, into: directory) }
    }

    /// The leaf cgroup, below the pod's in the v2 hierarchy, of the pod's own processes.
    public static let realmLeaf = "fasco-realm"

    /// Moves one of the pod's own processes (its supervisor, its pause child) into the pod:
    /// into its cgroup in the v1 hierarchies holding one of `controllers` (each v1 move costs
    /// a synchronisation of the cgroup subsystem), and into the leaf `realmLeaf` (made when
    /// missing) in the v2 hierarchy, whatever controllers it offers (see the type's notes).
    public func addRealmProcess(pid: pid_t, controllers: Set<String>) throws(FascoError) {
        guard pid > 0 else { throw .invalidArgument("not a process ID: \(pid)") }
        for hierarchy in hierarchies {
            var directory = directory(in: hierarchy)
            switch hierarchy.version {
            case .v1:
                guard !controllers.isDisjoint(with: hierarchy.controllers) else { continue }
            case .v2:
                directory += "/" + Self.realmLeaf
                guard mkdir(directory, 0o755) == 0 || errno == EEXIST else {
                    throw .internal("cannot create cgroup \(directory): \(FileSystem.errnoText)")
                }
            }
            try Self.move(pid, into: directory)
        }
    }

    private static func move(_ pid: pid_t, into directory: String) throws(FascoError) {
        let status = CgroupPath.write("\(pid)\n", to: "\(directory)/cgroup.procs")
        switch status {
        case 0: return
        case ESRCH: throw .notFound("process \(pid) does not exist")
        case ENOENT: throw .notFound("cgroup \(directory) does not exist (create it first)")
        default: throw .internal("cannot move process \(pid) into \(directory): \(String(cString: strerror(status)))")
        }
    }

    /// The processes in the cgroup and, when `recursive`, in its child cgroups (the containers'),
    /// in any hierarchy, sorted and without repetitions. A cgroup that does not exist has none.
    public func processes(recursive: Bool = true) throws(FascoError) -> [pid_t] {
        var found = Set<pid_t>()
        for directory in directories {
            for cgroup in try recursive ? Self.tree(directory) : [directory] {
                guard let text = try CgroupPath.read("\(cgroup)/cgroup.procs") else { continue }
                for line in text.split(separator: "\n") { if let pid = pid_t(line) { found.insert(pid) } }
            }
        }
        return found.sorted()
    }

    // MARK: remove

    /// Removes the cgroup and every cgroup below it, deepest first, in every hierarchy.
    /// Idempotent: a cgroup that is already gone is fine. A cgroup still busy (`EBUSY`: processes
    /// that were killed but have not exited yet) is retried every 10 ms for up to `busyTimeout`;
    /// then `.failedPrecondition` names the processes left. It never kills anything: kill the
    /// pod's processes first.
    public func remove(busyTimeout: Duration = .seconds(5)) async throws(FascoError) {
        let deadline = ContinuousClock.now + busyTimeout
        while true {
            var busy: [String] = []
            for directory in directories {
                for cgroup in try Self.tree(directory).reversed() {
                    guard rmdir(cgroup) != 0 else { continue }
                    switch errno {
                    case ENOENT: continue
                    case EBUSY: busy.append(cgroup)
                    default: throw .internal("cannot remove cgroup \(cgroup): \(FileSystem.errnoText)")
                    }
                }
            }
            if busy.isEmpty { return }
            if ContinuousClock.now >= deadline || Task.isCancelled {
                // Only to name them in the error.
                let left = (try? processes()) ?? []
                throw .failedPrecondition(
                    "cgroup \(path) is still busy in \(busy.joined(separator: ", ")); processes left: \(left.map(String.init).joined(separator: " "))")
            }
            // Cancelled, the sleep ends at once, and the check above ends the loop.
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// `directory` and the cgroups below it, parents before children; empty when it is absent.
    static func tree(_ directory: String) throws(FascoError) -> [String] {
        guard FileSystem.isDirectory(directory) else { return [] }
        var result = [directory]
        var index = 0
        while index < result.count {
            let current = result[index]
            index += 1
            // A child removed between the listing and the stat is simply skipped.
            for name in try FileSystem.list(current) where FileSystem.isDirectory("\(current)/\(name)") {
                result.append("\(current)/\(name)")
            }
        }
        return result
    }
}
