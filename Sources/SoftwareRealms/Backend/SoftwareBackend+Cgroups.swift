import FascoCore
import RealmCore
#if canImport(Glibc)
import Glibc
#endif

/// Where a pod's processes go, under either cgroup driver (the OCI runtime's `cgroupDriver`).
///
/// - cgroupfs: the pod's cgroup is a directory Fasco makes in every hierarchy (the pod's
///   cgroup_parent, else `<cgroup_root>/<pod ID>`); the supervisor joins its accounting v1
///   hierarchies and, on cgroup v2, the leaf `<pod cgroup>/fasco-realm`; containers are
///   `<pod cgroup>/<container ID>`, made by the runtime.
/// - systemd: the pod's cgroup is a slice unit (the pod's cgroup_parent, which must name one,
///   or the path of one, as kubelet sends it: "/kubepods.slice/kubepods-besteffort.slice/
///   kubepods-besteffort-pod<uid>.slice"; else "fasco-pod<pod ID>.slice");
///   nothing makes directories in systemd's tree but systemd: the supervisor gets a transient
///   scope "fasco-realm-<pod ID>.scope" in the slice (Delegate=yes), and containers are the
///   scopes "fasco-<container ID>.scope" the runtime asks systemd for (`--systemd-cgroup`,
///   cgroupsPath "slice:fasco:<ID>"). On cgroup v1 systemd does not move processes into
///   every hierarchy, so the supervisor joins the accounting ones itself at its scope's path,
///   as runc does for containers.
extension SoftwareBackend {
    struct PodPlacement: Equatable {
        /// The pod's cgroup, relative to every hierarchy's root.
        var path: String
        /// The pod's slice with the systemd driver.
        var slice: String?
    }

    /// The hierarchies the supervisor is charged in: it counts towards the pod's memory, CPU
    /// and pids; the other hierarchies would only cost a cgroup move each.
    static let supervisorControllers: Set<String> = ["memory", "cpu", "cpuacct", "pids"]

    var systemd: SystemdManager? { configuration.runtime.cgroupDriver == .systemd ? SystemdManager() : nil }

    /// The slice of a pod started without a cgroup parent, under the systemd driver.
    static func defaultSlice(of id: RealmID) -> String { "fasco-pod\(id.value).slice" }

    /// The transient scope unit holding a pod's supervisor, under the systemd driver.
    static func supervisorScope(of id: RealmID) -> String { "fasco-realm-\(id.value).scope" }

    func podPlacement(_ realm: SystemRealm, request: SystemRealmRequest) throws(FascoError) -> PodPlacement {
        switch configuration.runtime.cgroupDriver {
        case .cgroupfs:
            let path = request.cgroupParent.isEmpty ? "\(configuration.cgroupRoot)/\(realm.id)" : request.cgroupParent
            guard path.hasPrefix("/"), !path.split(separator: "/").contains("..") else {
                throw .invalidArgument("cgroup parent \(path.debugDescription) must be an absolute path without .. (the cgroupfs driver)")
            }
            return PodPlacement(path: path, slice: nil)
        case .systemd:
            guard !request.cgroupParent.isEmpty else {
                let slice = Self.defaultSlice(of: realm.id)
                return PodPlacement(path: try PodCgroup.systemdSlicePath(slice), slice: slice)
            }
            // kubelet sends the slice's cgroup path ("/kubepods.slice/.../kubepods-besteffort-pod<uid>.slice",
            // its CgroupName.ToSystemd); a bare slice name is taken too.
            let parent = request.cgroupParent
            let slice = parent.split(separator: "/").last.map(String.init) ?? ""
            let invalid = FascoError.invalidArgument(
                "with the systemd cgroup driver a pod's cgroup parent names a slice unit, or is its cgroup path (such as /kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid>.slice): \(parent.debugDescription)")
            // A slice name systemdSlicePath refuses gets `invalid`, which says what is expected.
            guard slice.hasSuffix(".slice"), let path = try? PodCgroup.systemdSlicePath(slice) else { throw invalid }
            guard !parent.contains("/") || parent == path else { throw invalid }
            return PodPlacement(path: path, slice: slice)
        }
    }

    /// Before the supervisor starts: cgroupfs makes the pod's cgroup; under systemd the slice
    /// comes into being with the supervisor's scope.
    func preparePodCgroup(_ placement: PodPlacement, of realm: SystemRealm) throws(FascoError) {
        guard placement.slice == nil else { return }
        try PodCgroup(host: configuration.cgroups, path: placement.path).create(logger: configuration.logger.forRealm(pod: realm.id.value))
    }

    /// Moves the supervisor and its pause child (when it has one) into the pod (see the type's
    /// notes): they are the pod's, not the daemon's, and stay where a restart of the daemon's
    /// own unit does not reach them.
    func placeSupervisor(_ supervisor: SupervisorProcess, of realm: SystemRealm, placement: PodPlacement) async throws(FascoError) {
        var pids = [supervisor.pid]
        for pause in [supervisor.pidNamespaceInit, supervisor.userNamespaceHolder].compactMap({ $0 }) where !pids.contains(pause) {
            pids.append(pause)
        }
        guard let slice = placement.slice, let systemd else {
            let cgroup = try PodCgroup(host: configuration.cgroups, path: placement.path)
            for pid in pids { try cgroup.addRealmProcess(pid: pid, controllers: Self.supervisorControllers) }
            return
        }
        let scope = Self.supervisorScope(of: realm.id)
        try await systemd.startScope(scope, slice: slice, pids: pids, description: "Fasco System Realm \(realm.id) (pod \(realm.metadata.namespace)/\(realm.metadata.name))")
        let scopePath = CgroupPath.child(of: placement.path, scope)
        for hierarchy in configuration.cgroups.hierarchies where !hierarchy.readOnly && hierarchy.version == .v1
            && !Self.supervisorControllers.isDisjoint(with: hierarchy.controllers) {
            let directory = CgroupPath.directory(mountPoint: hierarchy.mountPoint, path: scopePath)
            // Made by systemd in the hierarchies it manages; by Fasco in the others.
            try FileSystem.makeDirectories(directory, mode: 0o755)
            for pid in pids {
                let status = CgroupPath.write("\(pid)\n", to: directory + "/cgroup.procs")
                guard status == 0 else {
                    throw .internal("cannot move process \(pid) of the realm into \(directory): \(String(cString: strerror(status)))")
                }
            }
        }
    }

    /// After the supervisor ended: under systemd its scope (normally gone with its last process)
    /// is stopped and its directories in the hierarchies systemd does not manage are removed.
    func releaseSupervisorCgroup(of realm: SystemRealm, running runtime: RunningSystemRealm) async throws(FascoError) {
        guard runtime.systemdSlice != nil, let systemd else { return }
        let scope = Self.supervisorScope(of: realm.id)
        try await systemd.stopUnit(scope)
        try await PodCgroup(host: configuration.cgroups, path: CgroupPath.child(of: runtime.cgroupParent, scope)).remove()
    }

    /// At removal: cgroupfs removes the pod's cgroup; under systemd Fasco stops the slice only
    /// when it chose it (kubelet's slices are kubelet's), and removes what it made itself.
    func removePodCgroup(of realm: SystemRealm, running runtime: RunningSystemRealm) async throws(FascoError) {
        guard let slice = runtime.systemdSlice else {
            try await PodCgroup(host: configuration.cgroups, path: runtime.cgroupParent).remove()
            return
        }
        guard slice == Self.defaultSlice(of: realm.id), let systemd else { return }
        try await systemd.stopUnit(slice)
        try await PodCgroup(host: configuration.cgroups, path: runtime.cgroupParent).remove()
    }

    /// A container's `linux.cgroupsPath` in the pod `pod`, in the form of the driver the pod
    /// started with: "<pod cgroup>/<ID>" (cgroupfs), or "<pod slice>:fasco:<ID>" (systemd), which
    /// the runtime turns into the scope "fasco-<ID>.scope" in the pod's slice.
    static func cgroupsPath(containerID: String, pod: RunningSystemRealm) throws(FascoError) -> String {
        guard let slice = pod.systemdSlice else {
            return try PodCgroup.containerCgroupsPath(parent: pod.cgroupParent, containerID: containerID, driver: .cgroupfs)
        }
        return try PodCgroup.containerCgroupsPath(parent: slice, containerID: containerID, driver: .systemd)
    }

    /// A container's cgroup, relative to every hierarchy's root: where the runtime puts it for
    /// its `cgroupsPath`.
    func containerCgroupPath(pod: RunningSystemRealm, containerID: String) throws(FascoError) -> String {
        try PodCgroup.hostPath(forCgroupsPath: Self.cgroupsPath(containerID: containerID, pod: pod),
                               driver: pod.systemdSlice == nil ? .cgroupfs : .systemd)
    }
}
