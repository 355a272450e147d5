extension RuntimeSpec {
    /// config.md "Process" (with "POSIX process" and "Linux Process"): the container process
    /// (Go: `specs.Process`).
    public struct Process: Codable, Sendable, Equatable {
        /// Whether a terminal is attached to the process (default false).
        public var terminal: Bool?
        /// The console size in characters, when `terminal` is true.
        public var consoleSize: ConsoleSize?
        /// The user the process runs as.
        public var user: User
        /// argv (execvp semantics); at least one entry is required on non-Windows platforms.
        public var args: [String]?
        /// Windows only: the full command line.
        public var commandLine: String?
        /// Environment, `KEY=value`.
        public var env: [String]?
        /// The working directory, an absolute path in the container.
        public var cwd: String
        /// Linux capability sets.
        public var capabilities: Capabilities?
        /// POSIX rlimits; a `type` must not be repeated.
        public var rlimits: [Rlimit]?
        /// Sets no_new_privs (prctl PR_SET_NO_NEW_PRIVS) for the process.
        public var noNewPrivileges: Bool?
        /// The AppArmor profile of the process.
        public var apparmorProfile: String?
        /// Value written to `/proc/[pid]/oom_score_adj`.
        public var oomScoreAdj: Int?
        /// sched_setattr(2) attributes.
        public var scheduler: Scheduler?
        /// The SELinux label of the process.
        public var selinuxLabel: String?
        /// ioprio_set(2) I/O priority.
        public var ioPriority: IOPriority?
        /// CPU affinity for `exec`ed processes.
        public var execCPUAffinity: CPUAffinity?

        public init(
            terminal: Bool? = nil,
            consoleSize: ConsoleSize? = nil,
            user: User,
            args: [String]? = nil,
            commandLine: String? = nil,
            env: [String]? = nil,
            cwd: String,
            capabilities: Capabilities? = nil,
            rlimits: [Rlimit]? = nil,
            noNewPrivileges: Bool? = nil,
            apparmorProfile: String? = nil,
            oomScoreAdj: Int? = nil,
            scheduler: Scheduler? = nil,
            selinuxLabel: String? = nil,
            ioPriority: IOPriority? = nil,
            execCPUAffinity: CPUAffinity? = nil
        ) {
            self.terminal = terminal
            self.consoleSize = consoleSize
            self.user = user
            self.args = args
            self.commandLine = commandLine
            self.env = env
            self.cwd = cwd
            self.capabilities = capabilities
            self.rlimits = rlimits
            self.noNewPrivileges = noNewPrivileges
            self.apparmorProfile = apparmorProfile
            self.oomScoreAdj = oomScoreAdj
            self.scheduler = scheduler
            self.selinuxLabel = selinuxLabel
            self.ioPriority = ioPriority
            self.execCPUAffinity = execCPUAffinity
        }

        /// config.md "consoleSize" (Go: `specs.Box`): terminal dimensions in characters.
        public struct ConsoleSize: Codable, Sendable, Equatable, Hashable {
            public var height: UInt
            public var width: UInt

            public init(height: UInt, width: UInt) {
                self.height = height
                self.width = width
            }
        }

        /// config.md "POSIX-platform User" (and "Windows User"): the identity of the process.
        public struct User: Codable, Sendable, Equatable {
            /// The user ID in the container namespace.
            public var uid: UInt32
            /// The group ID in the container namespace.
            public var gid: UInt32
            /// The umask; when absent the runtime's umask is left unchanged.
            public var umask: UInt32?
            /// Supplementary group IDs in the container namespace.
            public var additionalGids: [UInt32]?
            /// Windows only: the user name.
            public var username: String?

            public init(uid: UInt32, gid: UInt32, umask: UInt32? = nil, additionalGids: [UInt32]? = nil,
                        username: String? = nil) {
                self.uid = uid
                self.gid = gid
                self.umask = umask
                self.additionalGids = additionalGids
                self.username = username
            }
        }

        /// config.md "Linux Process" `capabilities` (Go: `LinuxCapabilities`): capability names such as
        /// `CAP_KILL`, per set. A runtime must error on capabilities it cannot map and log a warning
        /// for ones the kernel does not know.
        public struct Capabilities: Codable, Sendable, Equatable {
            public var bounding: [String]?
            public var effective: [String]?
            public var inheritable: [String]?
            public var permitted: [String]?
            public var ambient: [String]?

            public init(bounding: [String]? = nil, effective: [String]? = nil, inheritable: [String]? = nil,
                        permitted: [String]? = nil, ambient: [String]? = nil) {
                self.bounding = bounding
                self.effective = effective
                self.inheritable = inheritable
                self.permitted = permitted
                self.ambient = ambient
            }

            /// Every capability name defined by Linux (capabilities(7), linux/capability.h up to
            /// `CAP_LAST_CAP` = `CAP_CHECKPOINT_RESTORE`, Linux 5.9), in bit order. Only the names:
            /// which ones a container gets is policy.
            public static let allKnownNames: [String] = [
                "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
                "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
                "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
                "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
                "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
                "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
                "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
                "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
                "CAP_CHECKPOINT_RESTORE",
            ]
        }

        /// config.md "POSIX process" `rlimits` entry (Go: `POSIXRlimit`): setrlimit(2) for one resource.
        public struct Rlimit: Codable, Sendable, Equatable, Hashable {
            /// The resource, e.g. `RLIMIT_NOFILE` (getrlimit(2) names on Linux).
            public var type: String
            /// The ceiling for the soft limit.
            public var hard: UInt64
            /// The enforced limit.
            public var soft: UInt64

            public init(type: String, hard: UInt64, soft: UInt64) {
                self.type = type
                self.hard = hard
                self.soft = soft
            }
        }

        /// config.md "Linux Process" `scheduler`: sched_setattr(2) attributes.
        public struct Scheduler: Codable, Sendable, Equatable {
            public var policy: Policy
            /// Nice value (default 0).
            public var nice: Int32?
            /// Static priority for real-time policies (default 0).
            public var priority: Int32?
            public var flags: [Flag]?
            /// SCHED_DEADLINE runtime, nanoseconds.
            public var runtime: UInt64?
            /// SCHED_DEADLINE deadline, nanoseconds.
            public var deadline: UInt64?
            /// SCHED_DEADLINE period, nanoseconds.
            public var period: UInt64?

            public init(policy: Policy, nice: Int32? = nil, priority: Int32? = nil, flags: [Flag]? = nil,
                        runtime: UInt64? = nil, deadline: UInt64? = nil, period: UInt64? = nil) {
                self.policy = policy
                self.nice = nice
                self.priority = priority
                self.flags = flags
                self.runtime = runtime
                self.deadline = deadline
                self.period = period
            }

            /// Scheduling policy (Go: `LinuxSchedulerPolicy`).
            public struct Policy: OCIOpenString {
                public var rawValue: String
                public init(rawValue: String) { self.rawValue = rawValue }

                public static let other: Policy = "SCHED_OTHER"
                public static let fifo: Policy = "SCHED_FIFO"
                public static let rr: Policy = "SCHED_RR"
                public static let batch: Policy = "SCHED_BATCH"
                public static let iso: Policy = "SCHED_ISO"
                public static let idle: Policy = "SCHED_IDLE"
                public static let deadline: Policy = "SCHED_DEADLINE"
            }

            /// Scheduling flag (Go: `LinuxSchedulerFlag`).
            public struct Flag: OCIOpenString {
                public var rawValue: String
                public init(rawValue: String) { self.rawValue = rawValue }

                public static let resetOnFork: Flag = "SCHED_FLAG_RESET_ON_FORK"
                public static let reclaim: Flag = "SCHED_FLAG_RECLAIM"
                public static let dlOverrun: Flag = "SCHED_FLAG_DL_OVERRUN"
                public static let keepPolicy: Flag = "SCHED_FLAG_KEEP_POLICY"
                public static let keepParams: Flag = "SCHED_FLAG_KEEP_PARAMS"
                public static let utilClampMin: Flag = "SCHED_FLAG_UTIL_CLAMP_MIN"
                public static let utilClampMax: Flag = "SCHED_FLAG_UTIL_CLAMP_MAX"
            }
        }

        /// config.md "Linux Process" `ioPriority` (Go: `LinuxIOPriority`): ioprio_set(2) class and level.
        public struct IOPriority: Codable, Sendable, Equatable, Hashable {
            public var `class`: Class
            /// 0 (highest) to 7 (lowest).
            public var priority: Int

            public init(class: Class, priority: Int) {
                self.class = `class`
                self.priority = priority
            }

            /// I/O scheduling class (Go: `IOPriorityClass`).
            public struct Class: OCIOpenString {
                public var rawValue: String
                public init(rawValue: String) { self.rawValue = rawValue }

                public static let realtime: Class = "IOPRIO_CLASS_RT"
                public static let bestEffort: Class = "IOPRIO_CLASS_BE"
                public static let idle: Class = "IOPRIO_CLASS_IDLE"
            }
        }

        /// config.md "Linux Process" `execCPUAffinity` (Go: `CPUAffinity`): CPU lists (`0-3,7`) for a
        /// process started with `exec`: `initial` while the runtime sets it up, `final` once it runs.
        public struct CPUAffinity: Codable, Sendable, Equatable, Hashable {
            public var initial: String?
            public var final: String?

            public init(initial: String? = nil, final: String? = nil) {
                self.initial = initial
                self.final = final
            }
        }
    }
}
