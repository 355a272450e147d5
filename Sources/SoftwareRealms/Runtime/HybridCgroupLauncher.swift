import FascoCore

/// Runs a program in a mount namespace of its own from which the cgroup v2 mounts of a hybrid
/// host are taken away, without forking Swift:
///
///     unshare --mount --propagation unchanged -- /bin/sh -c '<for each: make its parent mount
///         private, unmount it; exec "$@">' fasco-hide-cgroup2 /usr/bin/umount /usr/bin/mount \
///         /sys/fs/cgroup/unified -- <program> <args...>
///
/// unshare(1) makes the namespace, the shell unmounts (lazily) and execs the program, so the
/// program keeps the pid that was spawned. Only the parent of each hidden mount is made
/// private in the new namespace, so the unmount stays there (the host keeps its mounts) while
/// every other mount keeps its propagation: containers created from this namespace still get
/// HOST_TO_CONTAINER and BIDIRECTIONAL volume propagation. When a parent is not a mount point
/// of its own, the whole namespace is made private instead (no propagation, but never an
/// unmount on the host). crun needs this on hybrid hosts (see `HostCgroups.mountsHidingHybridFromCrun`);
/// a container it creates there gets a mount namespace of its own (cloned from the private one,
/// then pivoted into the rootfs), so the container outlives the launcher, whose namespace
/// goes away with the runtime process.
public struct HybridCgroupLauncher: Sendable, Equatable {
    public var unshare: String
    public var shell: String
    public var umount: String
    public var mount: String
    /// The mounts to take away, e.g. ["/sys/fs/cgroup/unified"].
    public var mountPoints: [String]

    /// Finds unshare, sh and umount on the search path.
    public init(mountPoints: [String]) throws(FascoError) {
        func find(_ name: String) throws(FascoError) -> String {
            guard let path = ProcessSpawner.resolve(name) else {
                throw .failedPrecondition("\(name)(1) is needed to run crun on this hybrid cgroup host and was not found on \(ProcessSpawner.searchPath)")
            }
            return path
        }
        self.init(unshare: try find("unshare"), shell: try find("sh"), umount: try find("umount"), mount: try find("mount"),
                  mountPoints: mountPoints)
    }

    public init(unshare: String, shell: String, umount: String, mount: String, mountPoints: [String]) {
        self.unshare = unshare
        self.shell = shell
        self.umount = umount
        self.mount = mount
        self.mountPoints = mountPoints
    }

    /// The shell script: $1 is umount, $2 mount, then mount points up to `--`, then the program and its arguments.
    /// An unmount that fails is not fatal here: the program then meets the hybrid layout and says so itself.
    static let script = #"u=$1; m=$2; shift 2; while [ $# -gt 0 ] && [ "$1" != -- ]; do "$m" --make-private -- "${1%/*}" 2>/dev/null || "$m" --make-rprivate / || exit 125; "$u" -l -- "$1" 2>/dev/null; shift; done; shift; exec "$@""#

    /// A command running `executable arguments...` inside the namespace.
    public func command(_ executable: String, arguments: [String]) -> ProcessSpawner.Command {
        ProcessSpawner.Command(
            unshare,
            arguments: ["--mount", "--propagation", "unchanged", "--", shell, "-c", Self.script, "fasco-hide-cgroup2", umount, mount]
                + mountPoints + ["--", executable] + arguments)
    }
}
