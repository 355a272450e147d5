import OCISpec

/// Fasco's RuntimeDefault seccomp profile: an allow-list. Unlisted system calls fail with EPERM;
/// the ones only a capability makes useful (mount, ptrace, module loading, clock setting, …) are
/// allowed only when the container holds that capability; clone may not create namespaces
/// without CAP_SYS_ADMIN, and clone3 (whose flags a filter cannot inspect) fails with ENOSYS so
/// libc falls back to clone. Names a kernel or architecture does not have are ignored by the
/// runtimes, so one list serves every architecture.
public enum DefaultSeccompProfile {
    /// The profile for a container whose bounding set is `capabilities` (`CAP_*` names).
    public static func profile(capabilities: [String]) -> RuntimeSpec.Linux.Seccomp {
        let held = Set(capabilities)
        var syscalls: [RuntimeSpec.Linux.Seccomp.Syscall] = [.init(names: allowed, action: .allow)]
        // personality(2) only with the harmless domains: PER_LINUX, PER_LINUX32, UNAME26 variants, query.
        for persona: UInt64 in [0x0, 0x8, 0x20000, 0x20008, 0xFFFF_FFFF] {
            syscalls.append(.init(names: ["personality"], action: .allow, args: [.init(index: 0, value: persona, op: .equalTo)]))
        }
        if held.contains("CAP_SYS_ADMIN") {
            syscalls.append(.init(names: ["clone", "clone3"], action: .allow))
        } else {
            // clone(flags, …) without any CLONE_NEW* flag (CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET).
            #if arch(s390x)
            let flagsIndex: UInt = 1
            #else
            let flagsIndex: UInt = 0
            #endif
            syscalls.append(.init(names: ["clone"], action: .allow,
                                  args: [.init(index: flagsIndex, value: 0x7E02_0000, valueTwo: 0, op: .maskedEqual)]))
            syscalls.append(.init(names: ["clone3"], action: .errno, errnoRet: 38))
        }
        // One rule per name: a capability-gated call may be listed under several capabilities.
        var gated: [String] = []
        for (capability, names) in byCapability where held.contains(capability) {
            for name in names where !gated.contains(name) { gated.append(name) }
        }
        if !gated.isEmpty { syscalls.append(.init(names: gated, action: .allow)) }
        return RuntimeSpec.Linux.Seccomp(defaultAction: .errno, defaultErrnoRet: 1, architectures: architectures,
                                         syscalls: syscalls)
    }

    /// The architectures the filter covers: the native one and its compat ABIs.
    public static var architectures: [RuntimeSpec.Linux.Seccomp.Arch] {
        #if arch(x86_64)
        return [.x86_64, .x86, .x32]
        #elseif arch(arm64)
        return [.aarch64, .arm]
        #elseif arch(s390x)
        return [.s390x, .s390]
        #elseif arch(powerpc64le)
        return [.ppc64le]
        #else
        return []
        #endif
    }

    /// System calls allowed to every container.
    public static let allowed: [String] = [
        "accept", "accept4", "access", "adjtimex", "alarm", "arch_prctl", "arm_fadvise64_64", "arm_sync_file_range",
        "bind", "breakpoint", "brk", "cachestat", "cacheflush", "capget", "capset", "chdir", "chmod", "chown", "chown32",
        "clock_adjtime", "clock_adjtime64", "clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64",
        "clock_nanosleep", "clock_nanosleep_time64", "close", "close_range", "connect", "copy_file_range", "creat",
        "dup", "dup2", "dup3",
        "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait",
        "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat", "exit", "exit_group",
        "faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod",
        "fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr",
        "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs",
        "fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex", "futex_requeue", "futex_time64", "futex_wait",
        "futex_waitv", "futex_wake", "futimesat",
        "get_robust_list", "get_thread_area", "getcpu", "getcwd", "getdents", "getdents64", "getegid", "getegid32",
        "geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32", "getitimer", "getpeername",
        "getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getrandom", "getresgid", "getresgid32",
        "getresuid", "getresuid32", "getrlimit", "getrusage", "getsid", "getsockname", "getsockopt", "gettid",
        "gettimeofday", "getuid", "getuid32", "getxattr",
        "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel", "io_destroy",
        "io_getevents", "io_pgetevents", "io_pgetevents_time64", "io_setup", "io_submit", "ioctl", "ioprio_get",
        "ioprio_set", "ipc",
        "kill", "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lchown", "lchown32",
        "lgetxattr", "link", "linkat", "listen", "listxattr", "llistxattr", "_llseek", "lremovexattr", "lseek",
        "lsetxattr", "lstat", "lstat64",
        "madvise", "map_shadow_stack", "membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat",
        "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2", "modify_ldt", "mprotect",
        "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend",
        "mq_timedsend_time64", "mq_unlink", "mremap", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock",
        "munlockall", "munmap",
        "nanosleep", "newfstatat", "_newselect",
        "open", "openat", "openat2",
        "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect",
        "poll", "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2", "prlimit64", "process_mrelease",
        "pselect6", "pselect6_time64", "pwrite64", "pwritev", "pwritev2",
        "read", "readahead", "readlink", "readlinkat", "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64",
        "recvmsg", "remap_file_pages", "removexattr", "rename", "renameat", "renameat2", "restart_syscall", "riscv_flush_icache",
        "rmdir", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn",
        "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo",
        "s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr",
        "sched_get_priority_max", "sched_get_priority_min", "sched_getaffinity", "sched_getattr", "sched_getparam",
        "sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity",
        "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select", "semctl",
        "semget", "semop", "semtimedop", "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg",
        "sendmsg", "sendto", "set_robust_list", "set_thread_area", "set_tid_address", "set_tls", "setfsgid",
        "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32", "setitimer",
        "setpgid", "setpriority", "setregid", "setregid32", "setresgid", "setresgid32", "setresuid", "setresuid32",
        "setreuid", "setreuid32", "setrlimit", "setsid", "setsockopt", "setuid", "setuid32", "setxattr", "shmat",
        "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask", "sigreturn",
        "socket", "socketcall", "socketpair", "splice", "stat", "stat64", "statfs", "statfs64", "statx", "symlink",
        "symlinkat", "sync", "sync_file_range", "sync_file_range2", "syncfs", "sysinfo",
        "tee", "tgkill", "time", "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime",
        "timer_gettime64", "timer_settime", "timer_settime64", "timerfd_create", "timerfd_gettime",
        "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate", "truncate64",
        "ugetrlimit", "umask", "uname", "unlink", "unlinkat", "utime", "utimensat", "utimensat_time64", "utimes",
        "vfork", "vmsplice", "wait4", "waitid", "waitpid", "write", "writev",
    ]

    /// System calls allowed only to holders of a capability (which the kernel checks as well).
    public static let byCapability: [(capability: String, names: [String])] = [
        ("CAP_SYS_ADMIN", [
            "bpf", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick", "lookup_dcookie", "mount",
            "mount_setattr", "move_mount", "name_to_handle_at", "open_tree", "perf_event_open", "pivot_root", "quotactl", "quotactl_fd",
            "setdomainname", "sethostname", "setns", "syslog", "umount", "umount2", "unshare",
        ]),
        ("CAP_SYS_BOOT", ["reboot"]),
        ("CAP_SYS_CHROOT", ["chroot"]),
        ("CAP_SYS_MODULE", ["delete_module", "finit_module", "init_module"]),
        ("CAP_SYS_PACCT", ["acct"]),
        ("CAP_SYS_PTRACE", ["kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"]),
        ("CAP_SYS_RAWIO", ["ioperm", "iopl"]),
        ("CAP_SYS_TIME", ["clock_settime", "clock_settime64", "settimeofday", "stime"]),
        ("CAP_SYS_TTY_CONFIG", ["vhangup"]),
        ("CAP_SYS_NICE", ["get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"]),
        ("CAP_SYSLOG", ["syslog"]),
        ("CAP_BPF", ["bpf"]),
        ("CAP_PERFMON", ["perf_event_open"]),
        ("CAP_DAC_READ_SEARCH", ["open_by_handle_at"]),
    ]
}
