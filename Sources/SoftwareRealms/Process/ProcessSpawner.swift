import FascoCore
#if canImport(Glibc)
import Glibc
#endif

/// Starts processes with posix_spawn(3): never fork(2) from Swift, whose runtime holds locks
/// and threads a forked child cannot use.
///
/// Every child starts with exactly three descriptors (stdin, stdout, stderr: /dev/null, a
/// descriptor of the caller's or a new pipe) and all others closed, default signal
/// dispositions and an empty signal mask, optionally in a new session.
public enum ProcessSpawner {
    /// Where one of the child's standard descriptors comes from.
    public enum Redirect: Sendable, Equatable {
        /// /dev/null.
        case null
        /// A descriptor of the caller's; it stays open in the caller, who still owns it.
        case fd(Int32)
        /// A new pipe; the parent's end is returned in `Child` and owned by the caller.
        case pipe
    }

    /// What to start.
    public struct Command: Sendable, Equatable {
        /// An absolute path, or a name looked up on `PATH`.
        public var executable: String
        /// argv[1...].
        public var arguments: [String]
        /// argv[0]; the executable as given when nil.
        public var argv0: String?
        /// `NAME=value` entries; nil passes the caller's environment on.
        public var environment: [String]?
        public var workingDirectory: String?
        public var stdin: Redirect
        public var stdout: Redirect
        public var stderr: Redirect
        /// Start the child in a new session (setsid): its own process group, no controlling terminal.
        public var newSession: Bool
        /// Descriptors the child gets as 3, 4, ... (a readiness pipe, say); every other one is closed.
        public var inheritedDescriptors: [Int32] = []

        public init(
            _ executable: String, arguments: [String] = [], argv0: String? = nil, environment: [String]? = nil,
            workingDirectory: String? = nil, stdin: Redirect = .null, stdout: Redirect = .null,
            stderr: Redirect = .null, newSession: Bool = false
        ) {
            self.executable = executable
            self.arguments = arguments
            self.argv0 = argv0
            self.environment = environment
            self.workingDirectory = workingDirectory
            self.stdin = stdin
            self.stdout = stdout
            self.stderr = stderr
            self.newSession = newSession
        }
    }

    /// A started child. The pipe ends are the parent's (close-on-exec) and belong to the caller.
    public struct Child: Sendable, Equatable {
        public var pid: pid_t
        /// Write end of the child's stdin pipe.
        public var stdin: Int32?
        /// Read end of the child's stdout pipe.
        public var stdout: Int32?
        /// Read end of the child's stderr pipe.
        public var stderr: Int32?

        /// Closes whichever pipe ends are still held.
        public func closePipes() {
            for fd in [stdin, stdout, stderr] { if let fd { close(fd) } }
        }
    }

    /// The directories searched when neither `PATH` nor the caller gives any.
    public static let defaultSearchPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// Starts `command`; the caller must reap the child (`wait`).
    public static func spawn(_ command: Command) throws(FascoError) -> Child {
        guard let path = resolve(command.executable) else {
            throw .notFound("executable \(command.executable) not found (searched \(searchPath))")
        }
        let argv = [command.argv0 ?? command.executable] + command.arguments
        for text in argv + (command.environment ?? []) + [command.workingDirectory ?? ""] where text.utf8.contains(0) {
            throw .invalidArgument("argument or environment entry contains a NUL byte: \(text.debugDescription)")
        }

        // Descriptors the parent closes once the child has its copies, whatever happens.
        var childSide: [Int32] = []
        // The caller's pipe ends, closed only if spawning fails.
        var parentSide: [Int32?] = [nil, nil, nil]
        var sources: [Int32] = []
        var spawned = false
        defer {
            for fd in childSide { close(fd) }
            if !spawned { for fd in parentSide { if let fd { close(fd) } } }
        }
        var devNull: Int32 = -1
        // Private copies live above every target descriptor, so no dup2 overwrites a later one's source.
        let firstCopy = Int32(10 + command.inheritedDescriptors.count)
        for (target, redirect) in [command.stdin, command.stdout, command.stderr].enumerated() {
            switch redirect {
            case .null:
                if devNull < 0 {
                    devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
                    guard devNull >= 0 else { throw .internal("cannot open /dev/null: \(FileSystem.errnoText)") }
                    childSide.append(devNull)
                }
                sources.append(devNull)
            case .fd(let fd):
                // A source below 3 could be overwritten by an earlier dup2 (stdout <-> stderr
                // swaps): give the child a private copy above 2.
                let copy = fcntl(fd, F_DUPFD_CLOEXEC, firstCopy)
                guard copy >= 0 else { throw .invalidArgument("descriptor \(fd) for child fd \(target): \(FileSystem.errnoText)") }
                childSide.append(copy)
                sources.append(copy)
            case .pipe:
                let (readEnd, writeEnd) = try makePipe()
                if target == 0 {
                    childSide.append(readEnd)
                    parentSide[0] = writeEnd
                    sources.append(readEnd)
                } else {
                    childSide.append(writeEnd)
                    parentSide[target] = readEnd
                    sources.append(writeEnd)
                }
            }
        }

        for fd in command.inheritedDescriptors {
            let copy = fcntl(fd, F_DUPFD_CLOEXEC, firstCopy)
            guard copy >= 0 else { throw .invalidArgument("descriptor \(fd) to inherit: \(FileSystem.errnoText)") }
            childSide.append(copy)
            sources.append(copy)
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (target, source) in sources.enumerated() {
            try check(posix_spawn_file_actions_adddup2(&actions, source, Int32(target)), "adddup2")
        }
        if let directory = command.workingDirectory {
            guard let addChdir = LibcExtras.addChdir else {
                throw .unimplemented("this libc cannot change a spawned child's directory (posix_spawn_file_actions_addchdir_np)")
            }
            try check(addChdir(&actions, directory), "addchdir")
        }
        if let addCloseFrom = LibcExtras.addCloseFrom {
            try check(addCloseFrom(&actions, Int32(sources.count)), "addclosefrom")
        } else {
            // Close what is open now; descriptors opened later by other threads are close-on-exec
            // where Fasco opens them, and a close of an already closed one is ignored by glibc.
            // Without /proc nothing is listed, and close-on-exec alone applies.
            for name in (try? FileSystem.list("/proc/self/fd")) ?? [] {
                if let fd = Int32(name), fd >= Int32(sources.count), !sources.contains(fd) {
                    try check(posix_spawn_file_actions_addclose(&actions, fd), "addclose")
                }
            }
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        try check(posix_spawnattr_setsigdefault(&attributes, &allSignals), "setsigdefault")
        try check(posix_spawnattr_setsigmask(&attributes, &noSignals), "setsigmask")
        var flags = Int32(POSIX_SPAWN_SETSIGDEF) | Int32(POSIX_SPAWN_SETSIGMASK)
        if command.newSession { flags |= LibcExtras.spawnSetSID }
        try check(posix_spawnattr_setflags(&attributes, Int16(flags)), "setflags")

        var pid: pid_t = 0
        var result: Int32 = 0
        // ETXTBSY: the executable is still open for writing somewhere, typically in the child of
        // another thread's spawn that copied the descriptor of a file just written (an upgraded
        // binary, a test's script) and has not reached its exec yet. That passes in moments.
        for attempt in 0..<5 {
            if attempt > 0 { usleep(UInt32(10_000 << (attempt - 1))) }  // 10, 20, 40, 80 ms
            result = try withCStrings(argv) { (argvPointers) throws(FascoError) -> Int32 in
                if let environment = command.environment {
                    return try withCStrings(environment) { envPointers in
                        posix_spawn(&pid, path, &actions, &attributes, argvPointers, envPointers)
                    }
                }
                return posix_spawn(&pid, path, &actions, &attributes, argvPointers, environ)
            }
            if result != ETXTBSY { break }
        }
        guard result == 0 else {
            let reason = String(cString: strerror(result))
            if let directory = command.workingDirectory, !FileSystem.isDirectory(directory) {
                throw .notFound("cannot start \(path) in \(directory): \(reason)")
            }
            switch result {
            case ENOENT: throw .notFound("cannot start \(path): \(reason)")
            case EACCES, EPERM: throw .permissionDenied("cannot start \(path): \(reason)")
            case EAGAIN, ENOMEM: throw .resourceExhausted("cannot start \(path): \(reason)")
            default: throw .internal("cannot start \(path): \(reason)")
            }
        }
        spawned = true
        return Child(pid: pid, stdin: parentSide[0], stdout: parentSide[1], stderr: parentSide[2])
    }

    /// The effective search path: `PATH`, or `defaultSearchPath` when unset or empty.
    public static var searchPath: String {
        guard let value = getenv("PATH"), value.pointee != 0 else { return defaultSearchPath }
        return String(cString: value)
    }

    /// An absolute path for `executable`: itself when it contains a slash, else the first
    /// executable regular file of that name on `searchPath` (or `PATH`).
    public static func resolve(_ executable: String, searchPath path: String? = nil) -> String? {
        guard !executable.isEmpty else { return nil }
        if executable.contains("/") { return isExecutableFile(executable) ? executable : nil }
        for directory in (path ?? searchPath).split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(executable)"
            if isExecutableFile(candidate) { return candidate }
        }
        return nil
    }

    /// A pipe whose two ends are close-on-exec.
    public static func makePipe() throws(FascoError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        if let pipe2 = LibcExtras.pipe2 {
            guard pipe2(&fds, O_CLOEXEC) == 0 else { throw .resourceExhausted("cannot create a pipe: \(FileSystem.errnoText)") }
        } else {
            guard pipe(&fds) == 0 else { throw .resourceExhausted("cannot create a pipe: \(FileSystem.errnoText)") }
            _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        }
        return (fds[0], fds[1])
    }

    private static func isExecutableFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG && access(path, X_OK) == 0
    }

    private static func check(_ result: Int32, _ step: String) throws(FascoError) {
        guard result == 0 else { throw .internal("posix_spawn \(step): \(String(cString: strerror(result)))") }
    }

    /// NUL-terminated C string arrays that live for the duration of `body`.
    private static func withCStrings<R>(
        _ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) throws(FascoError) -> R
    ) throws(FascoError) -> R {
        var pointers: [UnsafeMutablePointer<CChar>?] = []
        pointers.reserveCapacity(strings.count + 1)
        defer { for pointer in pointers { free(pointer) } }
        for string in strings {
            guard let copy = strdup(string) else { throw .resourceExhausted("out of memory copying arguments") }
            pointers.append(copy)
        }
        pointers.append(nil)
        return try body(pointers)
    }
}
