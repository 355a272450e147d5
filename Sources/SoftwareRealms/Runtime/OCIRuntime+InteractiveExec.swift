import CLinux
import FascoCore
import FoundationEssentials
import OCISpec
import RealmCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

extension OCIRuntime {
    /// runc/crun `exec --process` with its stdio handed to the caller: pipes, or a terminal.
    ///
    /// Terminals differ by runtime. crun, not detached, sends the terminal's controlling side
    /// to `--console-socket` and still waits for the command, so Fasco relays that side and
    /// resizes it directly. runc refuses a console socket unless detached (and a detached
    /// command's status is lost), so it gets a pseudo-terminal of Fasco's as its stdio, relays
    /// it to the container's own (as it would for a user's terminal) and is sent SIGWINCH to
    /// copy a new size through.
    public func startExec(id: String, process: RuntimeSpec.Process, stdio: ExecStdio) async throws(FascoError) -> InteractiveProcess {
        try Self.validate(id: id)
        guard let program = process.args?.first, !program.isEmpty else { throw .invalidArgument("exec needs a command") }
        var process = process
        process.terminal = stdio.terminal
        process.consoleSize = nil
        let files = ExecFiles(log: logFile(id: id, operation: "exec"), process: logFile(id: id, operation: "process"),
                              pid: logFile(id: id, operation: "exec-pid"))
        let data: Data
        do { data = try JSONEncoder().encode(process) } catch { throw .internal("cannot encode the exec process", cause: error) }
        do throws(FascoError) {
            try FileSystem.writeAtomically(Array(data), to: files.process, mode: 0o600, durable: false)
            let arguments = globalArguments(log: files.log) + ["exec", "--process", files.process, "--pid-file", files.pid]
            if !stdio.terminal {
                return try startPiped(id: id, arguments: arguments + [id], stdio: stdio, files: files)
            }
            switch kind {
            case .crun: return try await startWithConsoleSocket(id: id, arguments: arguments + ["--tty"], files: files)
            case .runc: return try startWithRelayedTerminal(id: id, arguments: arguments + ["--tty", id], files: files)
            }
        } catch {
            files.remove()
            throw error
        }
    }

    /// The runtime's files for one exec, removed once it has ended.
    struct ExecFiles: Sendable {
        var log: String
        var process: String
        var pid: String

        func remove() {
            unlink(log)
            unlink(process)
            unlink(pid)
        }

        /// The command's pid, once the runtime has written it (nil before, or when it cannot be read).
        var commandPID: pid_t? {
            guard let bytes = try? FileSystem.read(pid, limit: 64), let pid = Int32(String(decoding: bytes, as: UTF8.self).trimmed), pid > 0 else {
                return nil
            }
            return pid
        }
    }

    private func startPiped(id: String, arguments: [String], stdio: ExecStdio, files: ExecFiles) throws(FascoError) -> InteractiveProcess {
        let command = ProcessSpawner.Command(
            binary, arguments: arguments, environment: environment,
            stdin: stdio.stdin ? .pipe : .null, stdout: stdio.stdout ? .pipe : .null, stderr: stdio.stderr ? .pipe : .null,
            newSession: true)
        let child: ProcessSpawner.Child
        do { child = try ProcessSpawner.spawn(command) } catch { throw .unavailable("cannot run \(kind.rawValue) exec", cause: error) }
        return watch(child.pid, id: id, files: files, stdin: child.stdin, stdout: child.stdout, stderr: child.stderr, terminal: nil) { _, _ in }
    }

    private func startWithRelayedTerminal(id: String, arguments: [String], files: ExecFiles) throws(FascoError) -> InteractiveProcess {
        var primary: Int32 = -1
        var replica: Int32 = -1
        guard fasco_open_pty(&primary, &replica) == 0 else { throw .resourceExhausted("cannot open a pseudo-terminal: \(FileSystem.errnoText)") }
        defer { close(replica) }
        var command = ProcessSpawner.Command(binary, arguments: arguments, environment: environment, newSession: true)
        command.stdin = .fd(replica)
        command.stdout = .fd(replica)
        command.stderr = .fd(replica)
        let child: ProcessSpawner.Child
        do { child = try ProcessSpawner.spawn(command) } catch {
            close(primary)
            throw .unavailable("cannot run \(kind.rawValue) exec", cause: error)
        }
        let pid = child.pid
        let terminal = primary
        return watch(pid, id: id, files: files, stdin: nil, stdout: nil, stderr: nil, terminal: terminal) { columns, rows in
            // The runtime copies its own terminal's size into the container's on SIGWINCH.
            _ = fasco_set_window_size(terminal, rows, columns)
            Glibc.kill(pid, SIGWINCH)
        }
    }

    private func startWithConsoleSocket(id: String, arguments: [String], files: ExecFiles) async throws(FascoError) -> InteractiveProcess {
        let console = try ConsoleSocket(directory: logDirectory)
        defer { console.close() }
        let command = ProcessSpawner.Command(
            binary, arguments: arguments + ["--console-socket", console.path, id], environment: environment, newSession: true)
        let child: ProcessSpawner.Child
        do { child = try ProcessSpawner.spawn(command) } catch { throw .unavailable("cannot run \(kind.rawValue) exec", cause: error) }
        let pid = child.pid
        let deadline = ContinuousClock.now + timeout
        let listener = console.fd
        let received: Result<Int32, FascoError>
        do throws(FascoError) {
            received = .success(try await BlockingWork.run { () throws(FascoError) -> Int32 in
                try ConsoleSocket.receive(listener: listener, runtime: pid, until: deadline)
            })
        } catch {
            received = .failure(error)
        }
        switch received {
        case .success(let terminal):
            return watch(pid, id: id, files: files, stdin: nil, stdout: nil, stderr: nil, terminal: terminal) { columns, rows in
                // The kernel signals SIGWINCH to the command, whose controlling terminal this is.
                _ = fasco_set_window_size(terminal, rows, columns)
            }
        case .failure(let error):
            Glibc.kill(-pid, SIGKILL)
            let exit: ProcessExit?
            do throws(FascoError) {
                exit = try await ProcessSpawner.wait(pid)
            } catch let reaping {
                logger.cleanUpFailed(
                    "reap the exec runtime killed when no terminal came", error: reaping, container: id,
                    left: "\(kind.rawValue) process \(pid), unreaped")
                exit = nil
            }
            let said = Self.errorMessages(inLog: files.log)
            files.remove()
            if let status = RuntimeRefusal.recognise(said.joined(separator: "; "))?.shellStatus {
                // The command cannot start (missing, not executable): it ends as in a shell.
                return InteractiveProcess(wait: { .success(status) }, kill: {})
            }
            if !said.isEmpty { throw .internal("\(kind.rawValue) exec \(id): \(said.joined(separator: "; "))") }
            throw FascoError(error.code, "\(kind.rawValue) exec \(id): \(error.message)" + (exit.map { " (\($0))" } ?? ""))
        }
    }

    /// Reaps the runtime from now on (its status is the command's) and packages the descriptors.
    private func watch(_ pid: pid_t, id: String, files: ExecFiles, stdin: Int32?, stdout: Int32?, stderr: Int32?, terminal: Int32?,
                       resize: @escaping @Sendable (UInt16, UInt16) -> Void) -> InteractiveProcess {
        let kind = self.kind
        let reaper = Task { () -> Result<Int32, FascoError> in
            defer { files.remove() }
            let exit: ProcessExit
            do throws(FascoError) { exit = try await ProcessSpawner.wait(pid) } catch { return .failure(error) }
            if !exit.succeeded && files.commandPID == nil {
                // No pid file: the runtime failed before the command ran.
                let said = Self.errorMessages(inLog: files.log)
                // A command that does not exist or cannot be executed ends as in a shell (127,
                // 126); the runtime printed why on the client's stderr (or terminal).
                if let status = RuntimeRefusal.recognise(said.joined(separator: "; "))?.shellStatus { return .success(status) }
                return .failure(.internal("\(kind.rawValue) exec \(id) failed: " + (said.isEmpty ? "\(exit)" : said.joined(separator: "; "))))
            }
            return .success(exit.shellStatus)
        }
        return InteractiveProcess(
            stdin: stdin, stdout: stdout, stderr: stderr, terminal: terminal, resize: resize,
            wait: { await reaper.value },
            kill: {
                // The command lives in the container's namespaces outside the runtime's group:
                // killed through its pid file, which makes the runtime return.
                if let command = files.commandPID { Glibc.kill(command, SIGKILL) } else { Glibc.kill(-pid, SIGKILL) }
            })
    }
}

/// A listening unix socket a runtime's `--console-socket` connects to, to hand over a terminal.
struct ConsoleSocket: Sendable {
    let path: String
    let fd: Int32

    init(directory: String) throws(FascoError) {
        let name = "console-\(String(UInt64.random(in: 0...UInt64.max), radix: 16)).sock"
        // A unix socket path holds at most 107 bytes.
        let path = directory.utf8.count + name.utf8.count < 100 ? "\(directory)/\(name)" : "/tmp/fasco-\(name)"
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .resourceExhausted("cannot create a console socket: \(FileSystem.errnoText)") }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { target in
            for (index, byte) in bytes.enumerated() where index < target.count - 1 { target[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(fd, 1) == 0 else {
            let text = FileSystem.errnoText
            Glibc.close(fd)
            throw .internal("cannot listen on console socket \(path): \(text)")
        }
        self.path = path
        self.fd = fd
    }

    func close() {
        Glibc.close(fd)
        unlink(path)
    }

    /// Blocking: accepts the runtime's connection and receives the terminal, giving up when
    /// the runtime exits first or `deadline` passes.
    static func receive(listener: Int32, runtime pid: pid_t, until deadline: ContinuousClock.Instant) throws(FascoError) -> Int32 {
        while true {
            var entry = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            let ready = poll(&entry, 1, min(50, ProcessSpawner.milliseconds(until: deadline)))
            if ready > 0 { break }
            if ready < 0 && errno != EINTR { throw .internal("poll on the console socket: \(FileSystem.errnoText)") }
            var info = siginfo_t()
            if waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_signo == SIGCHLD {
                throw .internal("the runtime exited before handing over the terminal")
            }
            if ContinuousClock.now >= deadline { throw FascoError(.deadlineExceeded, "the runtime did not hand over the terminal in time") }
        }
        let connection = accept(listener, nil, nil)
        guard connection >= 0 else { throw .internal("accept on the console socket: \(FileSystem.errnoText)") }
        defer { Glibc.close(connection) }
        var entry = pollfd(fd: connection, events: Int16(POLLIN), revents: 0)
        guard poll(&entry, 1, ProcessSpawner.milliseconds(until: deadline)) > 0 else {
            throw FascoError(.deadlineExceeded, "the runtime did not send the terminal in time")
        }
        let terminal = fasco_receive_fd(connection)
        guard terminal >= 0 else { throw .internal("receiving the terminal: \(FileSystem.errnoText)") }
        return terminal
    }
}
