import FascoCore
import FoundationEssentials
import OCISpec
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

extension OCIRuntime {
    /// The argv of `create` for a realm supervisor to run (it owns the container's stdio).
    /// The supervisor must hide `launcher?.mountPoints` itself (`--hide-mount`): the argv runs
    /// the runtime directly. The runtime's own log goes to `createLog(id:)`.
    /// `consoleSocket`: for a container with a terminal, where the runtime passes its
    /// controlling side (`--console-socket`).
    public func createArgv(id: String, bundle: String, pidFile: String, consoleSocket: String? = nil) throws(FascoError) -> [String] {
        try Self.validate(id: id)
        return [binary] + globalArguments(log: createLog(id: id)) + ["create", "--bundle", bundle, "--pid-file", pidFile]
            + (consoleSocket.map { ["--console-socket", $0] } ?? []) + [id]
    }

    /// Whether the runtime keeps state for `id` (crun and runc both keep a directory per
    /// container under their root): a file-system check, no process. An invalid ID it never knows.
    public func knows(id: String) -> Bool {
        (try? Self.validate(id: id)) != nil && FileSystem.isDirectory("\(stateRoot)/\(id)")
    }

    /// Where the runtime logs a supervised `create` (read for its error messages, then removed).
    public func createLog(id: String) -> String { "\(logDirectory)/\(id)-create.json" }

    /// What the runtime said in `createLog(id:)`.
    public func createErrors(id: String) -> [String] { Self.errorMessages(inLog: createLog(id: id)) }

    /// runc/crun `exec --process`: runs `process` in the container, collecting its output.
    /// Returns nil when it outlived `timeout`: then the command itself (found through its pid
    /// file: it lives in the container's namespaces, outside the runtime's process group) is killed too.
    public func exec(id: String, process: RuntimeSpec.Process, timeout: Duration, outputLimit: Int) async throws(FascoError) -> ProcessSpawner.Output? {
        try Self.validate(id: id)
        guard let program = process.args?.first, !program.isEmpty else { throw .invalidArgument("exec needs a command") }
        let log = logFile(id: id, operation: "exec")
        let processFile = logFile(id: id, operation: "process")
        let pidFile = logFile(id: id, operation: "exec-pid")
        defer {
            unlink(log)
            unlink(processFile)
            unlink(pidFile)
        }
        let data: Data
        do { data = try JSONEncoder().encode(process) } catch { throw .internal("cannot encode the exec process", cause: error) }
        try FileSystem.writeAtomically(Array(data), to: processFile, mode: 0o600, durable: false)
        let spawn = ProcessSpawner.Command(
            binary, arguments: globalArguments(log: log) + ["exec", "--process", processFile, "--pid-file", pidFile, id], environment: environment,
            stdout: .pipe, stderr: .pipe, newSession: true)
        // The command lives in the container's namespaces, outside the runtime's process group:
        // at the timeout (or when the caller gives up) it is killed through its pid file, which
        // makes the runtime return at once.
        @Sendable func killCommand() {
            // No pid file (yet): the command has not started; there is nothing of it to kill.
            if let bytes = try? FileSystem.read(pidFile, limit: 64), let pid = Int32(String(decoding: bytes, as: UTF8.self).trimmed), pid > 0 {
                Glibc.kill(pid, SIGKILL)
            }
        }
        let fired = Mutex(false)
        let timer = Task {
            // Cancelled when the exec ended first; the check below tells.
            try? await Task.sleep(for: timeout)
            guard !Task.isCancelled else { return }
            fired.withLock { $0 = true }
            killCommand()
        }
        defer { timer.cancel() }
        let output: ProcessSpawner.Output
        do {
            output = try await withTaskCancellationHandler {
                try await ProcessSpawner.run(spawn, timeout: timeout + .seconds(30), outputLimit: outputLimit)
            } onCancel: {
                killCommand()
            }
        } catch let error as FascoError {
            killCommand()
            throw error
        } catch {
            throw .internal("exec in \(id)", cause: error)
        }
        if fired.withLock({ $0 }) { return nil }
        if !output.exit.succeeded, (try? FileSystem.read(pidFile, limit: 64)) ?? nil == nil {
            // No pid file: the runtime failed before the command ran. A command that does not
            // exist or cannot be executed ends as it would in a shell (127, 126), with the
            // runtime's message on stderr; anything else is the runtime's failure.
            if let started = Self.execRefused(output, log: log) { return started }
            throw failure(operation: "exec", id: id, exit: output.exit, log: log, output: output, bundle: nil)
        }
        return output
    }

    /// The output of an exec whose command could not start because of the command itself
    /// (`RuntimeRefusal.shellStatus`): that status, and the runtime's words on stderr when it
    /// printed none there; nil for any other failure.
    static func execRefused(_ output: ProcessSpawner.Output, log: String) -> ProcessSpawner.Output? {
        let said = errorMessages(inLog: log).joined(separator: "; ")
        guard let status = RuntimeRefusal.recognise(said + "\n" + output.stderrText)?.shellStatus else { return nil }
        var refused = output
        refused.exit = .exited(status)
        if output.stderrText.trimmed.isEmpty { refused.stderr = Array((said + "\n").utf8) }
        return refused
    }

    /// runc/crun `update`: applies new resource limits to a created or running container.
    public func update(id: String, resources: RuntimeSpec.Linux.Resources) async throws(FascoError) {
        try Self.validate(id: id)
        let encoder = JSONEncoder()
        let data: Data
        do { data = try encoder.encode(resources) } catch { throw .internal("cannot encode resources", cause: error) }
        let file = logFile(id: id, operation: "resources")
        try FileSystem.writeAtomically(Array(data), to: file, mode: 0o600, durable: false)
        defer { unlink(file) }
        _ = try await call("update", id: id, arguments: ["update", "--resources", file, id])
    }
}
