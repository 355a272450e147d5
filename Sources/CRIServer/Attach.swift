import CRIAPI
import CRIStreaming
import FascoCore
import GRPCTransport

extension CRIService {
    /// Validates the request and returns a one-time URL on the streaming server, where the
    /// client gets the running container's own stdin (when its config asked for one) and
    /// its output from then on; for a container with a terminal, that terminal (its output,
    /// its input when the config asked for stdin, and its size). Leaving does not stop the container.
    public func attach(_ request: AttachRequest, context: ServerContext) async throws -> AttachResponse {
        guard request.stdin || request.stdout || request.stderr else {
            throw FascoError.invalidArgument("one of stdin, stdout and stderr must be set")
        }
        guard !(request.tty && request.stderr) else {
            throw FascoError.invalidArgument("tty and stderr cannot both be set: a terminal has no separate stderr")
        }
        try await requireRunning(request.containerID)
        let url = try streaming.url(for: .attach(.init(
            containerID: request.containerID, tty: request.tty, stdin: request.stdin, stdout: request.stdout, stderr: request.stderr)))
        return AttachResponse(url: url)
    }
}
