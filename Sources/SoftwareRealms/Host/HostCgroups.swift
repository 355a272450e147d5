import FascoCore
import RealmCore
#if canImport(Glibc)
import Glibc
#endif

/// How this host's cgroups are laid out, detected from the mount table rather than assumed.
///
/// Sources: `/proc/self/mountinfo` (which `cgroup` and `cgroup2` file systems are mounted where,
/// and the controllers bound to each v1 hierarchy), `/proc/filesystems` (what the kernel
/// supports), `/proc/cgroups` (the controllers the kernel has), `cgroup.controllers` at the root
/// of a v2 mount (the controllers v2 offers) and `/run/systemd/system` (sd_booted(3): systemd
/// is the init system).
public struct HostCgroups: Sendable, Equatable {
    /// The layout, named as systemd and the OCI runtimes name it.
    public enum Mode: String, Sendable, Equatable {
        /// Only cgroup v2, mounted at the cgroup root (`/sys/fs/cgroup`).
        case unified
        /// Only cgroup v1 hierarchies.
        case legacy
        /// cgroup v1 hierarchies plus a cgroup v2 mount (usually `/sys/fs/cgroup/unified`).
        case hybrid
        /// No cgroup file system is mounted.
        case none
    }

    public enum Version: Int, Sendable, Equatable {
        case v1 = 1
        case v2 = 2
    }

    /// One mounted cgroup hierarchy.
    public struct Hierarchy: Sendable, Equatable {
        public var version: Version
        public var mountPoint: String
        /// v1: the controllers bound to this hierarchy (from its super options);
        /// v2: the controllers its root offers (`cgroup.controllers`).
        public var controllers: [String]
        /// A v1 named hierarchy without controllers, such as `name=systemd` -> `systemd`.
        public var name: String?
        public var readOnly: Bool

        public init(version: Version, mountPoint: String, controllers: [String], name: String? = nil, readOnly: Bool = false) {
            self.version = version
            self.mountPoint = mountPoint
            self.controllers = controllers
            self.name = name
            self.readOnly = readOnly
        }
    }

    /// Where cgroup hierarchies are conventionally mounted.
    public var root: String
    public var mode: Mode
    /// Every visible cgroup mount, v1 and v2, in mount order (a later mount on the same
    /// mount point replaces an earlier one).
    public var hierarchies: [Hierarchy]
    /// From `/proc/filesystems`.
    public var kernelSupportsV1: Bool
    public var kernelSupportsV2: Bool
    /// Enabled controllers the kernel has (`/proc/cgroups`), empty when that file is absent.
    public var kernelControllers: [String]
    /// `/run/systemd/system` exists: systemd runs as init, so the systemd cgroup driver is usable.
    public var systemdRunning: Bool

    public init(
        root: String, mode: Mode, hierarchies: [Hierarchy], kernelSupportsV1: Bool, kernelSupportsV2: Bool,
        kernelControllers: [String], systemdRunning: Bool
    ) {
        self.root = root
        self.mode = mode
        self.hierarchies = hierarchies
        self.kernelSupportsV1 = kernelSupportsV1
        self.kernelSupportsV2 = kernelSupportsV2
        self.kernelControllers = kernelControllers
        self.systemdRunning = systemdRunning
    }

    public var v1Hierarchies: [Hierarchy] { hierarchies.filter { $0.version == .v1 } }
    public var v2Hierarchies: [Hierarchy] { hierarchies.filter { $0.version == .v2 } }

    /// The cgroup v2 mount: the cgroup root when unified, `/sys/fs/cgroup/unified` when hybrid.
    public var v2MountPoint: String? {
        v2Hierarchies.first { $0.mountPoint == root }?.mountPoint ?? v2Hierarchies.first?.mountPoint
    }

    /// Controllers per version: a controller is in at most one version at a time.
    public var v1Controllers: [String] { v1Hierarchies.flatMap(\.controllers).sorted() }
    public var v2Controllers: [String] { v2Hierarchies.flatMap(\.controllers).sorted() }

    /// Enabled kernel controllers that neither a v1 hierarchy nor the v2 root offers
    /// (v1-only controllers such as net_cls left unmounted, or implicit v2 ones like perf_event).
    public var unplacedControllers: [String] {
        let placed = Set(v1Controllers + v2Controllers)
        return kernelControllers.filter { !placed.contains($0) }
    }

    /// The hierarchy that owns `controller`, if it is mounted.
    public func hierarchy(of controller: String) -> Hierarchy? {
        hierarchies.last { $0.controllers.contains(controller) }
    }

    /// The cgroup driver a runtime should use: systemd when systemd is init, cgroupfs otherwise.
    public var preferredDriver: OCIRuntime.CgroupDriver { systemdRunning ? .systemd : .cgroupfs }

    /// crun 1.x refuses to create containers on a hybrid host whose v2 hierarchy offers any
    /// controller ("cgroups in hybrid mode not supported, drop all controllers from cgroupv2").
    /// It works when the v2 mounts are absent from its mount namespace; these are the mounts
    /// to take away (empty when crun runs as is).
    ///
    /// Decided once, at start, yet what the v2 mount offers can change afterwards: where it is
    /// rooted below the hierarchy's root (a cgroup namespace, a container, Fasco's systemd lab),
    /// its controllers are those its parent enables, and another runtime may enable one later
    /// (runc enabled `hugetlb` in the root's cgroup.subtree_control here after containerd ran).
    /// So the mounts are hidden as soon as any explicit v2 controller is bound to no v1
    /// hierarchy, offered now or not.
    public var mountsHidingHybridFromCrun: [String] {
        guard mode == .hybrid else { return [] }
        let couldAppearInV2 = unplacedControllers.contains { Self.explicitV2Controllers.contains($0) }
        guard !v2Controllers.isEmpty || couldAppearInV2 else { return [] }
        return v2Hierarchies.map(\.mountPoint)
    }

    /// The controllers cgroup v2 enables through cgroup.subtree_control (perf_event and
    /// freezer are implicit there; net_cls, net_prio, devices are v1 only).
    static let explicitV2Controllers: Set<String> = ["cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"]

    // MARK: detection

    /// Reads this host's cgroup layout.
    public static func detect(root: String = "/sys/fs/cgroup") throws(FascoError) -> HostCgroups {
        let mounts = try MountInfo.current()
        let filesystems = (try FileSystem.read("/proc/filesystems")).map { String(decoding: $0, as: UTF8.self) } ?? ""
        // Optional: without it, every v1 super option that is not a known other one counts as a controller.
        let cgroups = (try? FileSystem.read("/proc/cgroups")).map { String(decoding: $0, as: UTF8.self) }
        return classify(
            mounts: mounts, filesystems: filesystems, procCgroups: cgroups,
            systemdRunning: FileSystem.isDirectory("/run/systemd/system"), root: root,
            v2Controllers: { mountPoint in
                // A v2 mount whose controllers cannot be read offers none Fasco could use.
                guard let bytes = try? FileSystem.read(mountPoint + "/cgroup.controllers") else { return [] }
                return String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
            })
    }

    /// Classifies a mount table; the inputs are passed in so the rules can be tested with any host's text.
    ///
    /// - Parameters:
    ///   - filesystems: the text of `/proc/filesystems`.
    ///   - procCgroups: the text of `/proc/cgroups`, when present; it tells controller names
    ///     apart from other super options of v1 mounts.
    ///   - v2Controllers: reads `cgroup.controllers` below a v2 mount point.
    public static func classify(
        mounts: [MountInfo], filesystems: String, procCgroups: String?, systemdRunning: Bool,
        root: String = "/sys/fs/cgroup", v2Controllers: (String) -> [String]
    ) -> HostCgroups {
        let kernelControllers = parseProcCgroups(procCgroups)
        let known = kernelControllers.isEmpty ? nil : Set(kernelControllers)
        var byMountPoint: [String: Int] = [:]
        var hierarchies: [Hierarchy] = []
        for mount in mounts {
            let hierarchy: Hierarchy
            let readOnly = mount.mountOptions.contains("ro")
            switch mount.fileSystemType {
            case "cgroup":
                let (controllers, name) = v1Controllers(superOptions: mount.superOptions, known: known)
                hierarchy = Hierarchy(version: .v1, mountPoint: mount.mountPoint, controllers: controllers, name: name, readOnly: readOnly)
            case "cgroup2":
                hierarchy = Hierarchy(version: .v2, mountPoint: mount.mountPoint, controllers: v2Controllers(mount.mountPoint), readOnly: readOnly)
            default:
                // Anything mounted over a cgroup mount point hides it.
                if let index = byMountPoint.removeValue(forKey: mount.mountPoint) { hierarchies[index].mountPoint = "" }
                continue
            }
            if let index = byMountPoint[mount.mountPoint] {
                hierarchies[index] = hierarchy
            } else {
                byMountPoint[mount.mountPoint] = hierarchies.count
                hierarchies.append(hierarchy)
            }
        }
        hierarchies.removeAll { $0.mountPoint.isEmpty }

        let hasV1 = hierarchies.contains { $0.version == .v1 }
        let hasV2 = hierarchies.contains { $0.version == .v2 }
        let mode: Mode
        switch (hasV1, hasV2) {
        case (false, false): mode = .none
        case (true, false): mode = .legacy
        case (false, true): mode = .unified
        case (true, true):
            // A v2 mount at the root with only named (controller-less) v1 hierarchies beside it is
            // still a unified host; v1 hierarchies with controllers next to any v2 mount is hybrid.
            let v1HasControllers = hierarchies.contains { $0.version == .v1 && !$0.controllers.isEmpty }
            let v2AtRoot = hierarchies.contains { $0.version == .v2 && $0.mountPoint == root }
            mode = (v2AtRoot && !v1HasControllers) ? .unified : .hybrid
        }

        let names = Set(filesystems.split(separator: "\n").compactMap { line in
            line.split(whereSeparator: { $0 == "\t" || $0 == " " }).last.map(String.init)
        })
        return HostCgroups(
            root: root, mode: mode, hierarchies: hierarchies,
            kernelSupportsV1: names.contains("cgroup"), kernelSupportsV2: names.contains("cgroup2"),
            kernelControllers: kernelControllers, systemdRunning: systemdRunning)
    }

    /// `#subsys_name hierarchy num_cgroups enabled`: the enabled controller names.
    static func parseProcCgroups(_ text: String?) -> [String] {
        guard let text else { return [] }
        return text.split(separator: "\n").compactMap { line in
            guard !line.hasPrefix("#") else { return nil }
            let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
            guard fields.count >= 4, fields[3] == "1" else { return nil }
            return String(fields[0])
        }
    }

    /// Super options that are never controller names.
    private static let genericV1Options: Set<String> = [
        "rw", "ro", "none", "noprefix", "xattr", "clone_children", "cpuset_v2_mode", "favordynmods", "all",
    ]

    private static func v1Controllers(superOptions: [String], known: Set<String>?) -> ([String], String?) {
        var controllers: [String] = []
        var name: String?
        for option in superOptions {
            if option.hasPrefix("name=") {
                name = String(option.dropFirst("name=".count))
            } else if option.contains("=") || genericV1Options.contains(option) {
                continue
            } else if known?.contains(option) ?? true {
                controllers.append(option)
            }
        }
        return (controllers.sorted(), name)
    }
}
