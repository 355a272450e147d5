import FascoCore
import FoundationEssentials
import OCISpec
#if canImport(Glibc)
import Glibc
#endif

extension OCIRuntime {
    /// The argv of `create` for a realm supervisor to run (it owns the container's stdio):
    /// through the hybrid-cgroup launcher when this runtime needs it. The runtime's own log
    /// goes to `createLog(id:)`.
    public func createArgv(id: String, bundle: String, pidFile: String) throws(FascoError) -> [String] {
        try Self.validate(id: id)
        let arguments = globalArguments(log: createLog(id: id)) + ["create", "--bundle", bundle, "--pid-file", pidFile, id]
        let command = launcher?.command(binary, arguments: arguments) ?? ProcessSpawner.Command(binary, arguments: arguments)
        return [command.executable] + command.arguments
    }

    /// Where the runtime logs a supervised `create` (read for its error messages, then removed).
    public func createLog(id: String) -> String { "\(logDirectory)/\(id)-create.json" }

    /// What the runtime said in `createLog(id:)`.
    public func createErrors(id: String) -> [String] { Self.errorMessages(inLog: createLog(id: id)) }

    /// runc/crun `exec`: runs `command` in the container, collecting its output, killed at `timeout`.
    public func exec(id: String, command: [String], timeout: Duration, outputLimit: Int) async throws(FascoError) -> ProcessSpawner.Output {
        try Self.validate(id: id)
        guard !command.isEmpty else { throw .invalidArgument("exec needs a command") }
        let log = logFile(id: id, operation: "exec")
        defer { unlink(log) }
        let spawn = ProcessSpawner.Command(
            binary, arguments: globalArguments(log: log) + ["exec", id] + command, environment: environment,
            stdout: .pipe, stderr: .pipe, newSession: true)
        return try await ProcessSpawner.run(spawn, timeout: timeout, outputLimit: outputLimit)
    }

    /// runc/crun `update`: applies new resource limits to a created or running container.
    public func update(id: String, resources: RuntimeSpec.Linux.Resources) async throws(FascoError) {
        try Self.validate(id: id)
        let encoder = JSONEncoder()
        let data: Data
        do { data = try encoder.encode(resources) } catch { throw .internal("cannot encode resources", cause: error) }
        let file = logFile(id: id, operation: "resources")
        try FileSystem.writeAtomically(Array(data), to: file, mode: 0o600)
        defer { unlink(file) }
        _ = try await call("update", id: id, arguments: ["update", "--resources", file, id])
    }
}
