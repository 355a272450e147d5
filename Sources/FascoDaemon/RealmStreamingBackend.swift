import CRIStreaming
import FascoCore
import RealmCore

/// The streaming server's runtime: commands and connections of the realms.
public struct RealmStreamingBackend: StreamingBackend {
    let realms: RealmManager

    public init(realms: RealmManager) {
        self.realms = realms
    }

    public func exec(_ request: StreamingRequest.Exec) async throws(FascoError) -> StreamingProcess {
        let process = try await realms.startExec(
            request.containerID, command: request.command,
            stdio: ExecStdio(stdin: request.stdin, stdout: request.stdout, stderr: request.stderr && !request.tty, terminal: request.tty))
        return StreamingProcess(
            stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, terminal: process.terminal,
            resize: process.resize,
            wait: {
                switch await process.wait() {
                case .success(let code): .exited(code)
                case .failure(let error): .failed(error.message)
                }
            },
            kill: process.kill)
    }

    public func attach(_ request: StreamingRequest.Attach) async throws(FascoError) -> StreamingProcess {
        let process = try await realms.attach(request.containerID, stdin: request.stdin, tty: request.tty)
        // A terminal container's output arrives on stdout (a copy, as for any container); its
        // stdin is the terminal, resized through the realm.
        return StreamingProcess(
            stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, resize: process.resize,
            wait: { .exited(0) }, kill: process.kill)
    }

    public func portForward(podSandboxID: String, port: UInt16) async throws(FascoError) -> Int32 {
        try await realms.connect(toPort: port, inSystemRealm: podSandboxID)
    }
}
