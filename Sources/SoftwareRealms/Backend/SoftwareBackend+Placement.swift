import FascoCore
import OCISpec
import RealmCore

/// What this backend adds to a container's spec before the runtime reads it: facts of the host
/// and of the pod's placement that the translation of the CRI request does not know (and that
/// a Container Realm's measurement leaves out).
extension SoftwareBackend {
    /// `spec` placed in its pod's cgroup (`linux.cgroupsPath`, either driver) with its
    /// `oom_score_adj` raised to `oomScoreAdjFloor`, the daemon's own: lowering it needs
    /// CAP_SYS_RESOURCE, which this host withholds even from root, and runc then fails with
    /// nothing but "can't get final child's PID from pipe: EOF" (containerd's
    /// `restrict_oom_score_adj`).
    static func runnable(_ spec: RuntimeSpec, containerID: String, pod: RunningSystemRealm, oomScoreAdjFloor: Int) throws(FascoError) -> RuntimeSpec {
        var spec = spec
        var linux = spec.linux ?? RuntimeSpec.Linux()
        linux.cgroupsPath = try cgroupsPath(containerID: containerID, pod: pod)
        spec.linux = linux
        if let requested = spec.process?.oomScoreAdj {
            spec.process?.oomScoreAdj = max(requested, oomScoreAdjFloor)
        }
        return spec
    }

    /// This process's oom_score_adj (0 when it cannot be read).
    static func daemonOOMScoreAdj() -> Int {
        ProcFS.read("oom_score_adj").flatMap(ProcFS.number) ?? 0
    }

    /// The mount points the daemon makes in the rootfs of a container in a user namespace, whose
    /// root (an unprivileged host ID) cannot make them in the image's root filesystem, which
    /// belongs to the host's root: each mount's destination, an empty file for a bind mount of
    /// a file (`isFile` of its source) and a directory otherwise. Mount points below another
    /// mount are the runtime's business (inside its tmpfs, sysfs or volume). None without a
    /// user namespace.
    static func mountPoints(of spec: RuntimeSpec, isFile: (String) -> Bool) -> [(path: String, file: Bool)] {
        guard spec.linux?.namespaces?.contains(where: { $0.type == .user }) == true else { return [] }
        let mounts = spec.mounts ?? []
        let destinations = mounts.map { $0.destination.split(separator: "/").map(String.init) }
        var points: [(path: String, file: Bool)] = []
        for (index, mount) in mounts.enumerated() {
            let components = destinations[index]
            let nested = destinations.contains { other in
                other.count < components.count && !other.isEmpty && Array(components.prefix(other.count)) == other
            }
            guard !nested, !components.isEmpty else { continue }
            var file = false
            if mount.type == "bind" || (mount.options ?? []).contains(where: { $0 == "bind" || $0 == "rbind" }), let source = mount.source {
                file = isFile(source)
            }
            points.append((mount.destination, file))
        }
        return points
    }
}
