import CRIAPI
import CRIStreaming
import FascoCore
import GRPCTransport

extension CRIService {
    /// Validates the request and returns a one-time URL on the streaming server, where the
    /// client runs the command with streamed stdio (the command starts when it connects).
    public func exec(_ request: ExecRequest, context: ServerContext) async throws -> ExecResponse {
        guard !request.cmd.isEmpty, !request.cmd[0].isEmpty else { throw FascoError.invalidArgument("cmd is required") }
        guard request.stdin || request.stdout || request.stderr else {
            throw FascoError.invalidArgument("one of stdin, stdout and stderr must be set")
        }
        guard !(request.tty && request.stderr) else {
            throw FascoError.invalidArgument("tty and stderr cannot both be set: a terminal has no separate stderr")
        }
        try await requireRunning(request.containerID)
        let url = try streaming.url(for: .exec(.init(
            containerID: request.containerID, command: request.cmd, tty: request.tty,
            stdin: request.stdin, stdout: request.stdout, stderr: request.stderr)))
        return ExecResponse(url: url)
    }

    /// NOT_FOUND for an unknown container, FAILED_PRECONDITION unless it runs.
    func requireRunning(_ containerID: String) async throws(FascoError) {
        guard !containerID.isEmpty else { throw .invalidArgument("container_id is required") }
        guard let container = try await realms.container(containerID) else { throw .notFound("container \(containerID) not found") }
        guard container.state == .running else {
            throw .failedPrecondition("container \(container.id) is \(container.state.rawValue), not running")
        }
    }
}
