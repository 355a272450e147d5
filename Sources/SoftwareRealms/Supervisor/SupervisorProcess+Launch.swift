import CLinux
import FascoCore
import Logging
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
    /// parent is fine; that intermediate is reaped here. The pause child of a realm with a PID
    /// namespace is taken from `directory/pidns-pid`, that of a realm with a user namespace from
    /// `directory/userns-pid`.
    static func launch(
        executable: String, arguments: [String], directory: String, timeout: Duration, logger: Logger
    ) async throws(FascoError) -> SupervisorProcess {
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
                return recorded(pid: pid, directory: directory)
            case .failed(let message):
                reap(spawned, until: ContinuousClock.now + .seconds(2))
                throw .internal("the realm supervisor for \(directory) failed to start: \(message)")
            case .ended:
                let status = reap(spawned, until: ContinuousClock.now + .seconds(2))
                let tail = lastLine(of: logPath)
                throw .internal("the realm supervisor for \(directory) exited before it was ready (\(status))\(tail.map { ": \($0)" } ?? "")")
            case .timedOut:
                // The supervisor, when an intermediate started it and it wrote its pid already.
                do throws(FascoError) {
                    if let pid = try readPID(directory: directory), pid != spawned, isSupervisor(pid) { kill(pid, SIGKILL) }
                } catch {
                    // The failed start's teardown reads the same file, and reports it then.
                    logger.cleanUpFailed(
                        "kill the supervisor that was not ready in time", error: error, left: "the supervisor, if it runs", retried: true)
                }
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

    /// The supervisor's last words, to say more in an error; nil when there are none to read.
    private static func lastLine(of path: String) -> String? {
        guard let bytes = try? FileSystem.read(path, limit: 1 << 20) else { return nil }
        let lines = bytes.split(separator: 0x0A)
        return lines.last.map { String(decoding: $0, as: UTF8.self) }
    }

    /// posix_spawn (never fork from Swift) with the descriptors described at `launch`:
    /// stdin and stdout /dev/null, stderr appended to `stderrPath`, the readiness pipe as fd 3.
    private static func spawn(executable: String, arguments: [String], stderrPath: String) throws(FascoError) -> (pid: pid_t, readiness: Int32) {
        let log = open(stderrPath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard log >= 0 else { throw .internal("cannot open \(stderrPath): \(FileSystem.errnoText)") }
        defer { close(log) }
        let (readEnd, writeEnd) = try ProcessSpawner.makePipe()
        defer { close(writeEnd) }
        var command = ProcessSpawner.Command(
            executable, arguments: arguments, environment: inheritedEnvironment(),
            stdin: .null, stdout: .null, stderr: .fd(log), newSession: true)
        command.inheritedDescriptors = [writeEnd]
        do throws(FascoError) {
            let child = try ProcessSpawner.spawn(command)
            return (child.pid, readEnd)
        } catch {
            close(readEnd)
            switch error.code {
            case .notFound, .permissionDenied: throw FascoError(error.code, "cannot start the realm supervisor \(executable): \(error.message)")
            default: throw error
            }
        }
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
}
