extension RuntimeSpec {
    /// config-linux.md: the `linux` object, Linux-specific container configuration (Go: `specs.Linux`).
    public struct Linux: Codable, Sendable, Equatable {
        /// "User namespace mappings": host-to-container UID ranges (needs a `user` namespace).
        public var uidMappings: [IDMapping]?
        /// "User namespace mappings": host-to-container GID ranges (needs a `user` namespace).
        public var gidMappings: [IDMapping]?
        /// "Sysctl": kernel parameters set in the container, e.g. `net.ipv4.ip_forward`.
        public var sysctl: [String: String]?
        /// "Control groups": cgroup resource limits.
        public var resources: Resources?
        /// "Cgroups Path": absolute, relative, or (runc/crun systemd driver) `slice:prefix:name`.
        public var cgroupsPath: String?
        /// "Namespaces": namespaces created (no `path`) or joined (`path`); types not listed are inherited.
        public var namespaces: [Namespace]?
        /// "Devices": device nodes that must exist in the container (beyond the default devices).
        public var devices: [Device]?
        /// "Network Devices": host network devices to move into the container's network namespace,
        /// keyed by host interface name (runtime-spec v1.3).
        public var netDevices: [String: NetDevice]?
        /// "Seccomp".
        public var seccomp: Seccomp?
        /// "Rootfs Mount Propagation": `shared`, `slave`, `private` or `unbindable`.
        public var rootfsPropagation: String?
        /// "Masked Paths": paths made unreadable in the container.
        public var maskedPaths: [String]?
        /// "Readonly Paths": paths made read-only in the container.
        public var readonlyPaths: [String]?
        /// "Mount Label": the SELinux context of the container's mounts.
        public var mountLabel: String?
        /// "IntelRdt": resctrl class of service.
        public var intelRdt: IntelRdt?
        /// "Memory policy": set_mempolicy(2) for the container (runtime-spec v1.3).
        public var memoryPolicy: MemoryPolicy?
        /// "Personality": personality(2) execution domain.
        public var personality: Personality?
        /// "Offset for Time Namespace": per-clock offsets keyed by clock name (`monotonic`, `boottime`).
        public var timeOffsets: [String: TimeOffset]?

        public init(
            uidMappings: [IDMapping]? = nil,
            gidMappings: [IDMapping]? = nil,
            sysctl: [String: String]? = nil,
            resources: Resources? = nil,
            cgroupsPath: String? = nil,
            namespaces: [Namespace]? = nil,
            devices: [Device]? = nil,
            netDevices: [String: NetDevice]? = nil,
            seccomp: Seccomp? = nil,
            rootfsPropagation: String? = nil,
            maskedPaths: [String]? = nil,
            readonlyPaths: [String]? = nil,
            mountLabel: String? = nil,
            intelRdt: IntelRdt? = nil,
            memoryPolicy: MemoryPolicy? = nil,
            personality: Personality? = nil,
            timeOffsets: [String: TimeOffset]? = nil
        ) {
            self.uidMappings = uidMappings
            self.gidMappings = gidMappings
            self.sysctl = sysctl
            self.resources = resources
            self.cgroupsPath = cgroupsPath
            self.namespaces = namespaces
            self.devices = devices
            self.netDevices = netDevices
            self.seccomp = seccomp
            self.rootfsPropagation = rootfsPropagation
            self.maskedPaths = maskedPaths
            self.readonlyPaths = readonlyPaths
            self.mountLabel = mountLabel
            self.intelRdt = intelRdt
            self.memoryPolicy = memoryPolicy
            self.personality = personality
            self.timeOffsets = timeOffsets
        }

        /// config-linux.md "Namespaces" entry (Go: `LinuxNamespace`).
        public struct Namespace: Codable, Sendable, Equatable, Hashable {
            public var type: Kind
            /// An existing namespace to join (e.g. `/proc/1234/ns/net`, a bind-mounted nsfs file);
            /// absent means create a new one.
            public var path: String?

            public init(type: Kind, path: String? = nil) {
                self.type = type
                self.path = path
            }

            /// Namespace type (Go: `LinuxNamespaceType`).
            public struct Kind: OCIOpenString {
                public var rawValue: String
                public init(rawValue: String) { self.rawValue = rawValue }

                public static let pid: Kind = "pid"
                public static let network: Kind = "network"
                public static let mount: Kind = "mount"
                public static let ipc: Kind = "ipc"
                public static let uts: Kind = "uts"
                public static let user: Kind = "user"
                public static let cgroup: Kind = "cgroup"
                public static let time: Kind = "time"
            }
        }

        /// config-linux.md "Offset for Time Namespace" entry (Go: `LinuxTimeOffset`).
        public struct TimeOffset: Codable, Sendable, Equatable, Hashable {
            public var secs: Int64?
            public var nanosecs: UInt32?

            public init(secs: Int64? = nil, nanosecs: UInt32? = nil) {
                self.secs = secs
                self.nanosecs = nanosecs
            }
        }

        /// config-linux.md "Devices" entry (Go: `LinuxDevice`): a device node to create in the container.
        public struct Device: Codable, Sendable, Equatable, Hashable {
            /// The full path inside the container.
            public var path: String
            /// `c` (char), `b` (block), `u` (unbuffered char) or `p` (FIFO).
            public var type: String
            /// Required unless `type` is `p`.
            public var major: Int64?
            /// Required unless `type` is `p`.
            public var minor: Int64?
            /// Permission bits, as a decimal number in JSON (0o666 is 438).
            public var fileMode: UInt32?
            /// Owner in the container namespace.
            public var uid: UInt32?
            /// Group in the container namespace.
            public var gid: UInt32?

            public init(path: String, type: String, major: Int64? = nil, minor: Int64? = nil,
                        fileMode: UInt32? = nil, uid: UInt32? = nil, gid: UInt32? = nil) {
                self.path = path
                self.type = type
                self.major = major
                self.minor = minor
                self.fileMode = fileMode
                self.uid = uid
                self.gid = gid
            }
        }

        /// config-linux.md "Network Devices" value (Go: `LinuxNetDevice`).
        public struct NetDevice: Codable, Sendable, Equatable, Hashable {
            /// The interface name inside the container (may end in `%d`); absent keeps the host name.
            public var name: String?

            public init(name: String? = nil) {
                self.name = name
            }
        }

        /// config-linux.md "IntelRdt" (Go: `LinuxIntelRdt`).
        public struct IntelRdt: Codable, Sendable, Equatable, Hashable {
            /// The resctrl CLOS directory; `/` is the default CLOS; absent means the container ID.
            public var closID: String?
            /// Lines written as-is to the `schemata` file, after the two schemas below (v1.3).
            public var schemata: [String]?
            /// `L3:<cache_id>=<cbm>;…`
            public var l3CacheSchema: String?
            /// `MB:<cache_id>=<bandwidth>;…`
            public var memBwSchema: String?
            /// Create a resctrl MON group for the container (v1.3).
            public var enableMonitoring: Bool?
            /// v1.1.0–v1.2.1 only; replaced by `enableMonitoring` in v1.3.0.
            public var enableCMT: Bool?
            /// v1.1.0–v1.2.1 only; replaced by `enableMonitoring` in v1.3.0.
            public var enableMBM: Bool?

            public init(closID: String? = nil, schemata: [String]? = nil, l3CacheSchema: String? = nil,
                        memBwSchema: String? = nil, enableMonitoring: Bool? = nil,
                        enableCMT: Bool? = nil, enableMBM: Bool? = nil) {
                self.closID = closID
                self.schemata = schemata
                self.l3CacheSchema = l3CacheSchema
                self.memBwSchema = memBwSchema
                self.enableMonitoring = enableMonitoring
                self.enableCMT = enableCMT
                self.enableMBM = enableMBM
            }
        }

        /// config-linux.md "Memory policy" (Go: `LinuxMemoryPolicy`): set_mempolicy(2).
        public struct MemoryPolicy: Codable, Sendable, Equatable, Hashable {
            public var mode: Mode
            /// Node list such as `0-3,7`.
            public var nodes: String?
            public var flags: [Flag]?

            public init(mode: Mode, nodes: String? = nil, flags: [Flag]? = nil) {
                self.mode = mode
                self.nodes = nodes
                self.flags = flags
            }

            /// Go: `MemoryPolicyModeType`.
            public struct Mode: OCIOpenString {
                public var rawValue: String
                public init(rawValue: String) { self.rawValue = rawValue }

                public static let `default`: Mode = "MPOL_DEFAULT"
                public static let bind: Mode = "MPOL_BIND"
                public static let interleave: Mode = "MPOL_INTERLEAVE"
                public static let weightedInterleave: Mode = "MPOL_WEIGHTED_INTERLEAVE"
                public static let preferred: Mode = "MPOL_PREFERRED"
                public static let preferredMany: Mode = "MPOL_PREFERRED_MANY"
                public static let local: Mode = "MPOL_LOCAL"
            }

            /// Go: `MemoryPolicyFlagType`.
            public struct Flag: OCIOpenString {
                public var rawValue: String
                public init(rawValue: String) { self.rawValue = rawValue }

                public static let numaBalancing: Flag = "MPOL_F_NUMA_BALANCING"
                public static let relativeNodes: Flag = "MPOL_F_RELATIVE_NODES"
                public static let staticNodes: Flag = "MPOL_F_STATIC_NODES"
            }
        }

        /// config-linux.md "Personality" (Go: `LinuxPersonality`): personality(2).
        public struct Personality: Codable, Sendable, Equatable, Hashable {
            public var domain: Domain
            /// No flags are defined yet.
            public var flags: [String]?

            public init(domain: Domain, flags: [String]? = nil) {
                self.domain = domain
                self.flags = flags
            }

            /// Execution domain (Go: `LinuxPersonalityDomain`).
            public struct Domain: OCIOpenString {
                public var rawValue: String
                public init(rawValue: String) { self.rawValue = rawValue }

                public static let linux: Domain = "LINUX"
                public static let linux32: Domain = "LINUX32"
            }
        }
    }
}
