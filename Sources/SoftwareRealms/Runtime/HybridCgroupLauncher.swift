import FascoCore

/// Runs a program in a private mount namespace from which the cgroup v2 mounts of a hybrid
/// host are taken away, without forking Swift:
///
///     unshare --mount --propagation private -- /bin/sh -c '<unmount each; exec "$@">' \
///         fasco-hide-cgroup2 /usr/bin/umount /sys/fs/cgroup/unified -- <program> <args...>
///
/// unshare(1) makes the namespace, the shell unmounts (lazily) and execs the program, so the
/// program keeps the pid that was spawned. The unmount is private to that namespace: the host
/// keeps its mounts. crun needs this on hybrid hosts (see `HostCgroups.mountsHidingHybridFromCrun`);
/// a container it creates there gets a mount namespace of its own (cloned from the private one,
/// then pivoted into the rootfs), so the container outlives the launcher, whose namespace
/// goes away with the runtime process.
public struct HybridCgroupLauncher: Sendable, Equatable {
    public var unshare: String
    public var shell: String
    public var umount: String
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
        self.init(unshare: try find("unshare"), shell: try find("sh"), umount: try find("umount"), mountPoints: mountPoints)
    }

    public init(unshare: String, shell: String, umount: String, mountPoints: [String]) {
        self.unshare = unshare
        self.shell = shell
        self.umount = umount
        self.mountPoints = mountPoints
    }

    /// The shell script: $1 is umount, then mount points up to `--`, then the program and its arguments.
    /// An unmount that fails is not fatal here: the program then meets the hybrid layout and says so itself.
    static let script = #"u=$1; shift; while [ $# -gt 0 ] && [ "$1" != -- ]; do "$u" -l -- "$1" 2>/dev/null; shift; done; shift; exec "$@""#

    /// A command running `executable arguments...` inside the private namespace.
    public func command(_ executable: String, arguments: [String]) -> ProcessSpawner.Command {
        ProcessSpawner.Command(
            unshare,
            arguments: ["--mount", "--propagation", "private", "--", shell, "-c", Self.script, "fasco-hide-cgroup2", umount]
                + mountPoints + ["--", executable] + arguments)
    }
}
