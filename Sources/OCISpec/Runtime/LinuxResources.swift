extension RuntimeSpec.Linux {
    /// config-linux.md "Control groups" `resources` (Go: `LinuxResources`): cgroup limits for the
    /// container. Absent members leave the corresponding controller settings alone.
    public struct Resources: Codable, Sendable, Equatable {
        /// "Allowed Device list": device cgroup rules, applied in order (later rules win).
        public var devices: [DeviceRule]?
        /// "Memory".
        public var memory: Memory?
        /// "CPU" (the `cpu` and `cpuset` controllers).
        public var cpu: CPU?
        /// "PIDs".
        public var pids: Pids?
        /// "Block IO".
        public var blockIO: BlockIO?
        /// "Huge page limits".
        public var hugepageLimits: [HugepageLimit]?
        /// "Network" (the `net_cls` and `net_prio` controllers, cgroup v1).
        public var network: Network?
        /// "RDMA": limits keyed by RDMA device name.
        public var rdma: [String: Rdma]?
        /// "Unified": cgroup v2 interface files and values, e.g. `"memory.high": "1073741824"`.
        public var unified: [String: String]?

        public init(
            devices: [DeviceRule]? = nil,
            memory: Memory? = nil,
            cpu: CPU? = nil,
            pids: Pids? = nil,
            blockIO: BlockIO? = nil,
            hugepageLimits: [HugepageLimit]? = nil,
            network: Network? = nil,
            rdma: [String: Rdma]? = nil,
            unified: [String: String]? = nil
        ) {
            self.devices = devices
            self.memory = memory
            self.cpu = cpu
            self.pids = pids
            self.blockIO = blockIO
            self.hugepageLimits = hugepageLimits
            self.network = network
            self.rdma = rdma
            self.unified = unified
        }

        /// config-linux.md "Allowed Device list" entry (Go: `LinuxDeviceCgroup`).
        public struct DeviceRule: Codable, Sendable, Equatable, Hashable {
            /// Whether the rule allows or denies.
            public var allow: Bool
            /// `a` (all), `c` (char) or `b` (block); absent means all.
            public var type: String?
            /// Absent means all majors (`*`).
            public var major: Int64?
            /// Absent means all minors (`*`).
            public var minor: Int64?
            /// Any combination of `r`, `w`, `m`.
            public var access: String?

            public init(allow: Bool, type: String? = nil, major: Int64? = nil, minor: Int64? = nil,
                        access: String? = nil) {
                self.allow = allow
                self.type = type
                self.major = major
                self.minor = minor
                self.access = access
            }
        }

        /// config-linux.md "Memory" (Go: `LinuxMemory`). Byte values; `-1` means unlimited.
        public struct Memory: Codable, Sendable, Equatable, Hashable {
            /// Memory usage limit, bytes.
            public var limit: Int64?
            /// Soft limit, bytes.
            public var reservation: Int64?
            /// Memory+swap limit, bytes.
            public var swap: Int64?
            /// Kernel memory limit (cgroup v1 only; deprecated, not recommended).
            public var kernel: Int64?
            /// Kernel TCP buffer limit (not recommended).
            public var kernelTCP: Int64?
            /// vm.swappiness for the cgroup (0–100).
            public var swappiness: UInt64?
            public var disableOOMKiller: Bool?
            /// Hierarchical accounting (cgroup v1).
            public var useHierarchy: Bool?
            /// Refuse an update that sets the limit below current usage.
            public var checkBeforeUpdate: Bool?

            public init(limit: Int64? = nil, reservation: Int64? = nil, swap: Int64? = nil, kernel: Int64? = nil,
                        kernelTCP: Int64? = nil, swappiness: UInt64? = nil, disableOOMKiller: Bool? = nil,
                        useHierarchy: Bool? = nil, checkBeforeUpdate: Bool? = nil) {
                self.limit = limit
                self.reservation = reservation
                self.swap = swap
                self.kernel = kernel
                self.kernelTCP = kernelTCP
                self.swappiness = swappiness
                self.disableOOMKiller = disableOOMKiller
                self.useHierarchy = useHierarchy
                self.checkBeforeUpdate = checkBeforeUpdate
            }
        }

        /// config-linux.md "CPU" (Go: `LinuxCPU`). Times are microseconds.
        public struct CPU: Codable, Sendable, Equatable, Hashable {
            /// Relative weight (cgroup v1 `cpu.shares`; runtimes convert to v2 `cpu.weight`).
            public var shares: UInt64?
            /// CFS quota per period, µs; `-1` means unlimited.
            public var quota: Int64?
            /// CFS burst, µs.
            public var burst: UInt64?
            /// CFS period, µs.
            public var period: UInt64?
            /// Real-time runtime per period, µs.
            public var realtimeRuntime: Int64?
            /// Real-time period, µs.
            public var realtimePeriod: UInt64?
            /// cpuset CPU list, e.g. `0-3,7`.
            public var cpus: String?
            /// cpuset memory node list, e.g. `0-3,7`.
            public var mems: String?
            /// `cpu.idle`: 0 normal, 1 SCHED_IDLE.
            public var idle: Int64?

            public init(shares: UInt64? = nil, quota: Int64? = nil, burst: UInt64? = nil, period: UInt64? = nil,
                        realtimeRuntime: Int64? = nil, realtimePeriod: UInt64? = nil, cpus: String? = nil,
                        mems: String? = nil, idle: Int64? = nil) {
                self.shares = shares
                self.quota = quota
                self.burst = burst
                self.period = period
                self.realtimeRuntime = realtimeRuntime
                self.realtimePeriod = realtimePeriod
                self.cpus = cpus
                self.mems = mems
                self.idle = idle
            }
        }

        /// config-linux.md "PIDs" (Go: `LinuxPids`).
        public struct Pids: Codable, Sendable, Equatable, Hashable {
            /// Maximum number of tasks; `-1` means no limit. (Required before runtime-spec v1.3.)
            public var limit: Int64?

            public init(limit: Int64? = nil) {
                self.limit = limit
            }
        }

        /// config-linux.md "Block IO" (Go: `LinuxBlockIO`).
        public struct BlockIO: Codable, Sendable, Equatable, Hashable {
            /// Default per-cgroup weight, 10–1000.
            public var weight: UInt16?
            /// Weight while competing with child cgroups (CFQ only).
            public var leafWeight: UInt16?
            public var weightDevice: [WeightDevice]?
            /// Bytes per second.
            public var throttleReadBpsDevice: [ThrottleDevice]?
            /// Bytes per second.
            public var throttleWriteBpsDevice: [ThrottleDevice]?
            /// IO operations per second.
            public var throttleReadIOPSDevice: [ThrottleDevice]?
            /// IO operations per second.
            public var throttleWriteIOPSDevice: [ThrottleDevice]?

            public init(weight: UInt16? = nil, leafWeight: UInt16? = nil, weightDevice: [WeightDevice]? = nil,
                        throttleReadBpsDevice: [ThrottleDevice]? = nil,
                        throttleWriteBpsDevice: [ThrottleDevice]? = nil,
                        throttleReadIOPSDevice: [ThrottleDevice]? = nil,
                        throttleWriteIOPSDevice: [ThrottleDevice]? = nil) {
                self.weight = weight
                self.leafWeight = leafWeight
                self.weightDevice = weightDevice
                self.throttleReadBpsDevice = throttleReadBpsDevice
                self.throttleWriteBpsDevice = throttleWriteBpsDevice
                self.throttleReadIOPSDevice = throttleReadIOPSDevice
                self.throttleWriteIOPSDevice = throttleWriteIOPSDevice
            }

            /// config-linux.md "Block IO" `weightDevice` entry (Go: `LinuxWeightDevice`).
            public struct WeightDevice: Codable, Sendable, Equatable, Hashable {
                public var major: Int64
                public var minor: Int64
                public var weight: UInt16?
                public var leafWeight: UInt16?

                public init(major: Int64, minor: Int64, weight: UInt16? = nil, leafWeight: UInt16? = nil) {
                    self.major = major
                    self.minor = minor
                    self.weight = weight
                    self.leafWeight = leafWeight
                }
            }

            /// config-linux.md "Block IO" `throttle*Device` entry (Go: `LinuxThrottleDevice`).
            public struct ThrottleDevice: Codable, Sendable, Equatable, Hashable {
                public var major: Int64
                public var minor: Int64
                public var rate: UInt64

                public init(major: Int64, minor: Int64, rate: UInt64) {
                    self.major = major
                    self.minor = minor
                    self.rate = rate
                }
            }
        }

        /// config-linux.md "Huge page limits" entry (Go: `LinuxHugepageLimit`).
        public struct HugepageLimit: Codable, Sendable, Equatable, Hashable {
            /// `<size><unit-prefix>B`, e.g. `2MB`, `1GB`.
            public var pageSize: String
            /// Bytes of HugeTLB reservations (or usage).
            public var limit: UInt64

            public init(pageSize: String, limit: UInt64) {
                self.pageSize = pageSize
                self.limit = limit
            }
        }

        /// config-linux.md "Network" (Go: `LinuxNetwork`).
        public struct Network: Codable, Sendable, Equatable, Hashable {
            /// net_cls class identifier.
            public var classID: UInt32?
            /// net_prio per-interface priorities.
            public var priorities: [InterfacePriority]?

            public init(classID: UInt32? = nil, priorities: [InterfacePriority]? = nil) {
                self.classID = classID
                self.priorities = priorities
            }

            /// Go: `LinuxInterfacePriority`.
            public struct InterfacePriority: Codable, Sendable, Equatable, Hashable {
                /// Interface name in the runtime network namespace.
                public var name: String
                public var priority: UInt32

                public init(name: String, priority: UInt32) {
                    self.name = name
                    self.priority = priority
                }
            }
        }

        /// config-linux.md "RDMA" value (Go: `LinuxRdma`).
        public struct Rdma: Codable, Sendable, Equatable, Hashable {
            public var hcaHandles: UInt32?
            public var hcaObjects: UInt32?

            public init(hcaHandles: UInt32? = nil, hcaObjects: UInt32? = nil) {
                self.hcaHandles = hcaHandles
                self.hcaObjects = hcaObjects
            }
        }
    }
}
