import FascoCore
#if canImport(Glibc)
import Glibc
#endif

extension ProcessSpawner {
    /// What a short command did.
    public struct Output: Sendable, Equatable {
        public var exit: ProcessExit
        public var stdout: [UInt8]
        public var stderr: [UInt8]
        /// Output past `outputLimit` was dropped.
        public var truncated: Bool

        public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
        public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
    }

    /// Runs a short command to its end, capturing stdout and stderr (stdin is /dev/null).
    ///
    /// The child runs in a session of its own; at `timeout` its whole process group is killed
    /// with SIGKILL and the call throws `deadlineExceeded`. Output a descendant writes after the
    /// child exits is not waited for: a daemon it leaves behind cannot hold the call open.
    public static func run(
        _ executable: String, args: [String] = [], environment: [String]? = nil, workingDirectory: String? = nil,
        timeout: Duration = .seconds(30), outputLimit: Int = 16 << 20
    ) async throws(FascoError) -> Output {
        try await run(
            Command(executable, arguments: args, environment: environment, workingDirectory: workingDirectory,
                    stdout: .pipe, stderr: .pipe, newSession: true),
            timeout: timeout, outputLimit: outputLimit)
    }

    /// Runs `command`, capturing whichever of stdout and stderr are `.pipe`.
    public static func run(_ command: Command, timeout: Duration, outputLimit: Int = 16 << 20) async throws(FascoError) -> Output {
        let deadline = ContinuousClock.now + timeout
        let child = try spawn(command)
        let killGroup = command.newSession
        return try await BlockingWork.run { () throws(FascoError) -> Output in
            try collect(child, deadline: deadline, timeout: timeout, outputLimit: outputLimit, killGroup: killGroup,
                        what: ([command.executable] + command.arguments).joined(separator: " "))
        }
    }

    /// Blocking: drains the child's pipes until it exits or `deadline` passes.
    private static func collect(
        _ child: Child, deadline: ContinuousClock.Instant, timeout: Duration, outputLimit: Int, killGroup: Bool, what: String
    ) throws(FascoError) -> Output {
        if let stdin = child.stdin { close(stdin) }
        var streams: [Stream] = []
        if let fd = child.stdout { streams.append(Stream(fd: fd, isStdout: true)) }
        if let fd = child.stderr { streams.append(Stream(fd: fd, isStdout: false)) }
        defer { for stream in streams where stream.fd >= 0 { close(stream.fd) } }
        for stream in streams { _ = fcntl(stream.fd, F_SETFL, fcntl(stream.fd, F_GETFL) | O_NONBLOCK) }

        let pidfd = LibcExtras.pidfdOpen.map { $0(child.pid, 0) } ?? -1
        defer { if pidfd >= 0 { close(pidfd) } }
        var budget = Budget(limit: outputLimit)

        while true {
            var entries = streams.filter { $0.fd >= 0 }.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            if pidfd >= 0 { entries.append(pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)) }
            let remaining = milliseconds(until: deadline)
            // Without a pidfd, look for the exit every few milliseconds.
            let wait = pidfd >= 0 ? remaining : min(remaining, 5)
            let ready = Glibc.poll(&entries, nfds_t(entries.count), wait)
            if ready < 0 && errno != EINTR { throw .internal("poll: \(FileSystem.errnoText)") }
            for index in streams.indices where streams[index].fd >= 0 {
                read(&streams[index], budget: &budget, untilDrained: false)
            }
            var status: Int32 = 0
            let reaped = waitpid(child.pid, &status, WNOHANG)
            if reaped == child.pid, let exit = ProcessExit(waitStatus: status) {
                // Whatever the child wrote before exiting is in the pipes now.
                for index in streams.indices where streams[index].fd >= 0 {
                    read(&streams[index], budget: &budget, untilDrained: true)
                }
                return output(exit, streams, budget)
            }
            if reaped < 0 && errno != EINTR {
                throw .internal("waitpid \(child.pid): \(FileSystem.errnoText)")
            }
            if ready == 0 && remaining == 0 {
                kill(killGroup ? -child.pid : child.pid, SIGKILL)
                // Fails only when the child is not this process's to reap (ECHILD): nothing is left then.
                _ = try? reap(child.pid, deadline: nil)
                for index in streams.indices where streams[index].fd >= 0 {
                    read(&streams[index], budget: &budget, untilDrained: true)
                }
                let stderr = String(decoding: streams.first { !$0.isStdout }?.bytes ?? [], as: UTF8.self)
                throw .init(.deadlineExceeded, "\(what) did not finish within \(timeout); killed"
                            + (stderr.isEmpty ? "" : " (stderr: \(stderr.trimmed))"))
            }
        }
    }

    private struct Stream {
        var fd: Int32
        var isStdout: Bool
        var bytes: [UInt8] = []
    }

    private struct Budget {
        var limit: Int
        var used = 0
        var truncated = false
    }

    /// Reads what is available; at EOF closes the descriptor (fd becomes -1). `untilDrained`
    /// stops at the first short read, so a descendant that keeps writing cannot hold us.
    private static func read(_ stream: inout Stream, budget: inout Budget, untilDrained: Bool) {
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(stream.fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                if errno != EAGAIN && errno != EWOULDBLOCK { close(stream.fd); stream.fd = -1 }
                return
            }
            if count == 0 {
                close(stream.fd)
                stream.fd = -1
                return
            }
            let keep = max(0, min(count, budget.limit - budget.used))
            if keep < count { budget.truncated = true }
            stream.bytes.append(contentsOf: chunk[..<keep])
            budget.used += keep
            if untilDrained && count < chunk.count { return }
        }
    }

    private static func output(_ exit: ProcessExit, _ streams: [Stream], _ budget: Budget) -> Output {
        Output(
            exit: exit,
            stdout: streams.first { $0.isStdout }?.bytes ?? [],
            stderr: streams.first { !$0.isStdout }?.bytes ?? [],
            truncated: budget.truncated)
    }
}

extension String {
    /// Without leading and trailing whitespace and newlines.
    var trimmed: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
