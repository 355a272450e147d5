import CRIAPI
import FascoCore
import GRPCTransport

extension CRIService {
    /// At most this much of each stream comes back (containerd's limit too).
    static let execSyncOutputLimit = 16 << 20

    /// Runs a command in a running container; a command outliving `timeout` seconds is killed
    /// and the call fails with DEADLINE_EXCEEDED.
    public func execSync(_ request: ExecSyncRequest, context: ServerContext) async throws -> ExecSyncResponse {
        guard !request.cmd.isEmpty, !request.cmd[0].isEmpty else { throw FascoError.invalidArgument("cmd is required") }
        guard request.timeout >= 0 else { throw FascoError.invalidArgument("timeout must not be negative") }
        let timeout: Duration? = request.timeout > 0 ? .seconds(request.timeout) : nil
        let result = try await realms.exec(request.containerID, command: request.cmd, timeout: timeout, outputLimit: Self.execSyncOutputLimit)
        if result.timedOut {
            throw FascoError(.deadlineExceeded, "command timed out after \(request.timeout)s and was killed")
        }
        return ExecSyncResponse(stdout: result.stdout, stderr: result.stderr, exitCode: result.exitCode)
    }
}
