import CLinux
import FascoCore
#if canImport(Glibc)
import Glibc
#endif

extension SupervisorProcess {
    /// Spawns `executable arguments` (fasco-realm itself, or a program that starts it and
    /// passes fd 3 on) and waits until the supervisor reports "ready" on fd 3, or fails.
    ///
    /// The child gets /dev/null as stdin and stdout, `directory/supervisor.log` (appended) as
    /// stderr, the readiness pipe as fd 3, a new session, default signal dispositions and an
    /// empty signal mask. Its pid is taken from `directory/pid`, so a short-lived intermediate
    /// parent is fine; that intermediate is reaped here.
    static func launch(executable: String, arguments: [String], directory: String, timeout: Duration) async throws(FascoError) -> SupervisorProcess {
        guard FileSystem.isDirectory(directory) else { throw .notFound("the realm directory \(directory) does not exist") }
        let logPath = "\(directory)/supervisor.log"
        let deadline = ContinuousClock.now + timeout
        let (spawned, readiness) = try spawn(executable: executable, arguments: arguments, stderrPath: logPath)
        return try await BlockingWork.run { () throws(FascoError) -> SupervisorProcess in
            defer { close(readiness) }
            switch try readReadiness(readiness, deadline: deadline) {
            case .ready:
                guard let pid = try readPID(directory: directory) else {
                    reap(spawned, until: deadline)
                    throw .internal("the realm supervisor reported ready but wrote no \(directory)/pid")
                }
                if pid != spawned { reap(spawned, until: deadline) }
                return SupervisorProcess(pid: pid, directory: directory)
            case .failed(let message):
                reap(spawned, until: ContinuousClock.now + .seconds(2))
                throw .internal("the realm supervisor for \(directory) failed to start: \(message)")
            case .ended:
                let status = reap(spawned, until: ContinuousClock.now + .seconds(2))
                let tail = lastLine(of: logPath)
                throw .internal("the realm supervisor for \(directory) exited before it was ready (\(status))\(tail.map { ": \($0)" } ?? "")")
            case .timedOut:
                if let pid = try? readPID(directory: directory), pid != spawned, isSupervisor(pid) { kill(pid, SIGKILL) }
                kill(spawned, SIGKILL)
                reap(spawned, until: ContinuousClock.now + .seconds(2))
                throw FascoError(.deadlineExceeded, "the realm supervisor for \(directory) was not ready within \(timeout)")
            }
        }
    }

    private enum Readiness {
        case ready
        case failed(String)
        case ended
        case timedOut
    }

    /// Reads the first line from the readiness pipe: "ready" or "error MESSAGE".
    private static func readReadiness(_ fd: Int32, deadline: ContinuousClock.Instant) throws(FascoError) -> Readiness {
        var line: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 256)
        while !line.contains(0x0A) && line.count < 4096 {
            let remaining = ContinuousClock.now.duration(to: deadline)
            if remaining <= .zero { return .timedOut }
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let (seconds, attoseconds) = remaining.components
            let milliseconds = Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
            let ready = poll(&entry, 1, milliseconds)
            if ready < 0 {
                if errno == EINTR { continue }
                throw .internal("poll on the readiness pipe: \(FileSystem.errnoText)")
            }
            if ready == 0 { continue }
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw .internal("reading the readiness pipe: \(FileSystem.errnoText)")
            }
            if count == 0 { break }
            line.append(contentsOf: chunk[..<count])
        }
        let text = String(decoding: line.prefix { $0 != 0x0A }, as: UTF8.self)
        if text == "ready" { return .ready }
        if text.hasPrefix("error ") { return .failed(String(text.dropFirst(6))) }
        if line.isEmpty { return .ended }
        return .failed("unexpected readiness message \(text.debugDescription)")
    }

    /// Reaps `pid` (a child) once it exits, killing it at `deadline`. Describes how it ended.
    @discardableResult
    static func reap(_ pid: pid_t, until deadline: ContinuousClock.Instant) -> String {
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid { break }
            if result < 0 && errno != EINTR { return "not a child" }
            if ContinuousClock.now >= deadline {
                kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                break
            }
            usleep(1_000)
        }
        // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import as functions.
        let signal = status & 0x7F
        return signal == 0 ? "exit status \((status >> 8) & 0xFF)" : "killed by signal \(signal)"
    }

    private static func lastLine(of path: String) -> String? {
        guard let bytes = try? FileSystem.read(path, limit: 1 << 20) else { return nil }
        let lines = bytes.split(separator: 0x0A)
        return lines.last.map { String(decoding: $0, as: UTF8.self) }
    }

    /// posix_spawn (never fork from Swift) with the descriptors described at `launch`.
    private static func spawn(executable: String, arguments: [String], stderrPath: String) throws(FascoError) -> (pid: pid_t, readiness: Int32) {
        let argv = [executable] + arguments
        for text in argv where text.utf8.contains(0) { throw .invalidArgument("argument contains a NUL byte: \(text.debugDescription)") }

        var parentSide: Int32 = -1
        var childSide: [Int32] = []
        var spawned = false
        defer {
            for fd in childSide { close(fd) }
            if !spawned && parentSide >= 0 { close(parentSide) }
        }
        let (readEnd, writeEnd) = try makePipe()
        parentSide = readEnd
        childSide.append(writeEnd)
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        guard null >= 0 else { throw .internal("cannot open /dev/null: \(FileSystem.errnoText)") }
        childSide.append(null)
        let log = open(stderrPath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard log >= 0 else { throw .internal("cannot open \(stderrPath): \(FileSystem.errnoText)") }
        childSide.append(log)
        // Copies above the targets 0-3, so no dup2 overwrites a later one's source and none
        // is a dup2 onto itself (which would keep close-on-exec).
        var sources: [Int32] = []
        for fd in [null, null, log, writeEnd] {
            let copy = fcntl(fd, F_DUPFD_CLOEXEC, 10)
            guard copy >= 0 else { throw .resourceExhausted("cannot duplicate a descriptor: \(FileSystem.errnoText)") }
            childSide.append(copy)
            sources.append(copy)
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (target, source) in sources.enumerated() {
            try check(posix_spawn_file_actions_adddup2(&actions, source, Int32(target)), "adddup2")
        }
        // Nothing else of the daemon's (the supervisor closes fds above 3 itself as well).
        try check(fasco_spawn_add_closefrom(&actions, 4), "addclosefrom")
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        try check(posix_spawnattr_setsigdefault(&attributes, &allSignals), "setsigdefault")
        try check(posix_spawnattr_setsigmask(&attributes, &noSignals), "setsigmask")
        // A session of its own (the supervisor calls setsid itself as well).
        let flags = Int16(POSIX_SPAWN_SETSIGDEF) | Int16(POSIX_SPAWN_SETSIGMASK) | fasco_spawn_setsid_flag()
        try check(posix_spawnattr_setflags(&attributes, flags), "setflags")

        var pid: pid_t = 0
        let result = withCStrings(argv) { argvPointers in
            withCStrings(inheritedEnvironment()) { envPointers in
                posix_spawn(&pid, executable, &actions, &attributes, argvPointers, envPointers)
            }
        }
        guard result == 0 else {
            let reason = String(cString: strerror(result))
            switch result {
            case ENOENT: throw .notFound("cannot start the realm supervisor \(executable): \(reason)")
            case EACCES, EPERM: throw .permissionDenied("cannot start the realm supervisor \(executable): \(reason)")
            default: throw .internal("cannot start the realm supervisor \(executable): \(reason)")
            }
        }
        spawned = true
        return (pid, readEnd)
    }

    /// The daemon's environment less what belongs to the daemon alone (systemd's
    /// notification socket and socket activation), which a runtime must not inherit.
    private static func inheritedEnvironment() -> [String] {
        var entries: [String] = []
        var cursor: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> = environ
        while let entry = cursor.pointee {
            let text = String(cString: entry)
            let name = text.split(separator: "=", maxSplits: 1).first.map(String.init) ?? text
            if !["NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"].contains(name) { entries.append(text) }
            cursor += 1
        }
        return entries
    }

    private static func makePipe() throws(FascoError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        guard fasco_pipe_cloexec(&fds) == 0 else { throw .resourceExhausted("pipe2: \(FileSystem.errnoText)") }
        return (fds[0], fds[1])
    }

    private static func check(_ result: Int32, _ what: String) throws(FascoError) {
        guard result == 0 else { throw .internal("posix_spawn \(what): \(String(cString: strerror(result)))") }
    }

    private static func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
        let pointers = strings.map { strdup($0) }
        defer { for pointer in pointers { free(pointer) } }
        return body(pointers + [nil])
    }
}
