extension RuntimeSpec.Linux {
    /// config-linux.md "Seccomp" (Go: `LinuxSeccomp`): a seccomp filter. Action, architecture and
    /// operator names are libseccomp's (seccomp.h).
    public struct Seccomp: Codable, Sendable, Equatable {
        /// The action for syscalls no rule matches.
        public var defaultAction: Action
        /// errno for `defaultAction` (`SCMP_ACT_ERRNO`/`SCMP_ACT_TRACE`); default EPERM.
        public var defaultErrnoRet: UInt?
        /// Syscall architectures the filter covers besides the native one.
        public var architectures: [Arch]?
        /// seccomp(2) filter flags.
        public var flags: [Flag]?
        /// The AF_UNIX SOCK_STREAM socket the runtime sends the `ContainerProcessState` and the
        /// notify fd to when `SCMP_ACT_NOTIFY` is used.
        public var listenerPath: String?
        /// Opaque data passed to the seccomp agent as `ContainerProcessState.metadata`; only with
        /// `listenerPath`.
        public var listenerMetadata: String?
        public var syscalls: [Syscall]?

        public init(defaultAction: Action, defaultErrnoRet: UInt? = nil, architectures: [Arch]? = nil,
                    flags: [Flag]? = nil, listenerPath: String? = nil, listenerMetadata: String? = nil,
                    syscalls: [Syscall]? = nil) {
            self.defaultAction = defaultAction
            self.defaultErrnoRet = defaultErrnoRet
            self.architectures = architectures
            self.flags = flags
            self.listenerPath = listenerPath
            self.listenerMetadata = listenerMetadata
            self.syscalls = syscalls
        }

        /// config-linux.md "Seccomp" `syscalls` entry (Go: `LinuxSyscall`).
        public struct Syscall: Codable, Sendable, Equatable, Hashable {
            /// Syscall names; at least one.
            public var names: [String]
            public var action: Action
            /// errno for `SCMP_ACT_ERRNO`/`SCMP_ACT_TRACE`; default EPERM.
            public var errnoRet: UInt?
            /// Argument conditions, all of which must match.
            public var args: [Arg]?

            public init(names: [String], action: Action, errnoRet: UInt? = nil, args: [Arg]? = nil) {
                self.names = names
                self.action = action
                self.errnoRet = errnoRet
                self.args = args
            }
        }

        /// config-linux.md "Seccomp" `syscalls[].args` entry (Go: `LinuxSeccompArg`).
        public struct Arg: Codable, Sendable, Equatable, Hashable {
            /// The syscall argument index (0–5).
            public var index: UInt
            public var value: UInt64
            /// The second operand (the compared value for `SCMP_CMP_MASKED_EQ`, whose mask is `value`).
            public var valueTwo: UInt64?
            public var op: Operator

            public init(index: UInt, value: UInt64, valueTwo: UInt64? = nil, op: Operator) {
                self.index = index
                self.value = value
                self.valueTwo = valueTwo
                self.op = op
            }
        }

        /// Seccomp action (Go: `LinuxSeccompAction`).
        public struct Action: OCIOpenString {
            public var rawValue: String
            public init(rawValue: String) { self.rawValue = rawValue }

            public static let kill: Action = "SCMP_ACT_KILL"
            public static let killProcess: Action = "SCMP_ACT_KILL_PROCESS"
            public static let killThread: Action = "SCMP_ACT_KILL_THREAD"
            public static let trap: Action = "SCMP_ACT_TRAP"
            public static let errno: Action = "SCMP_ACT_ERRNO"
            public static let trace: Action = "SCMP_ACT_TRACE"
            public static let allow: Action = "SCMP_ACT_ALLOW"
            public static let log: Action = "SCMP_ACT_LOG"
            public static let notify: Action = "SCMP_ACT_NOTIFY"
        }

        /// Syscall argument comparison operator (Go: `LinuxSeccompOperator`).
        public struct Operator: OCIOpenString {
            public var rawValue: String
            public init(rawValue: String) { self.rawValue = rawValue }

            public static let notEqual: Operator = "SCMP_CMP_NE"
            public static let lessThan: Operator = "SCMP_CMP_LT"
            public static let lessEqual: Operator = "SCMP_CMP_LE"
            public static let equalTo: Operator = "SCMP_CMP_EQ"
            public static let greaterEqual: Operator = "SCMP_CMP_GE"
            public static let greaterThan: Operator = "SCMP_CMP_GT"
            public static let maskedEqual: Operator = "SCMP_CMP_MASKED_EQ"
        }

        /// seccomp(2) filter flag (Go: `LinuxSeccompFlag`).
        public struct Flag: OCIOpenString {
            public var rawValue: String
            public init(rawValue: String) { self.rawValue = rawValue }

            public static let tsync: Flag = "SECCOMP_FILTER_FLAG_TSYNC"
            public static let log: Flag = "SECCOMP_FILTER_FLAG_LOG"
            public static let specAllow: Flag = "SECCOMP_FILTER_FLAG_SPEC_ALLOW"
            public static let waitKillableRecv: Flag = "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"
        }

        /// libseccomp architecture (Go: `Arch`).
        public struct Arch: OCIOpenString {
            public var rawValue: String
            public init(rawValue: String) { self.rawValue = rawValue }

            public static let x86: Arch = "SCMP_ARCH_X86"
            public static let x86_64: Arch = "SCMP_ARCH_X86_64"
            public static let x32: Arch = "SCMP_ARCH_X32"
            public static let arm: Arch = "SCMP_ARCH_ARM"
            public static let aarch64: Arch = "SCMP_ARCH_AARCH64"
            public static let mips: Arch = "SCMP_ARCH_MIPS"
            public static let mips64: Arch = "SCMP_ARCH_MIPS64"
            public static let mips64n32: Arch = "SCMP_ARCH_MIPS64N32"
            public static let mipsel: Arch = "SCMP_ARCH_MIPSEL"
            public static let mipsel64: Arch = "SCMP_ARCH_MIPSEL64"
            public static let mipsel64n32: Arch = "SCMP_ARCH_MIPSEL64N32"
            public static let ppc: Arch = "SCMP_ARCH_PPC"
            public static let ppc64: Arch = "SCMP_ARCH_PPC64"
            public static let ppc64le: Arch = "SCMP_ARCH_PPC64LE"
            public static let s390: Arch = "SCMP_ARCH_S390"
            public static let s390x: Arch = "SCMP_ARCH_S390X"
            public static let parisc: Arch = "SCMP_ARCH_PARISC"
            public static let parisc64: Arch = "SCMP_ARCH_PARISC64"
            public static let riscv64: Arch = "SCMP_ARCH_RISCV64"
            public static let loongarch64: Arch = "SCMP_ARCH_LOONGARCH64"
            public static let m68k: Arch = "SCMP_ARCH_M68K"
            public static let sh: Arch = "SCMP_ARCH_SH"
            public static let sheb: Arch = "SCMP_ARCH_SHEB"
        }
    }
}
