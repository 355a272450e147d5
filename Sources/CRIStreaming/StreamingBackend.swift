import FascoCore

/// What the streaming server needs from the runtime behind it: processes with streamed
/// stdio, and connections into a pod's network. The composition root supplies it.
public protocol StreamingBackend: Sendable {
    /// Starts `request.command` in the container; the returned descriptors belong to the caller.
    func exec(_ request: StreamingRequest.Exec) async throws(FascoError) -> StreamingProcess
    /// Connects the container's own stdio (the returned descriptors belong to the caller).
    func attach(_ request: StreamingRequest.Attach) async throws(FascoError) -> StreamingProcess
    /// A TCP connection to `port` on the pod's loopback, in the pod's network namespace
    /// (the host's for host-network pods). The descriptor belongs to the caller.
    func portForward(podSandboxID: String, port: UInt16) async throws(FascoError) -> Int32
}

extension StreamingBackend {
    public func attach(_ request: StreamingRequest.Attach) async throws(FascoError) -> StreamingProcess {
        throw .unimplemented("attach is not supported by this runtime")
    }
}

/// A started process whose stdio the streaming server relays. Descriptors are non-blocking
/// or not, as they come; the server makes them non-blocking and closes them when done.
public struct StreamingProcess: Sendable {
    /// Write end of the process's stdin (nil: none asked for, or a terminal).
    public var stdin: Int32?
    /// Read ends of its stdout and stderr.
    public var stdout: Int32?
    public var stderr: Int32?
    /// The terminal's controlling side (tty): output is read from it, input written to it.
    public var terminal: Int32?
    /// Sets the terminal size (columns, rows).
    public var resize: @Sendable (_ width: UInt16, _ height: UInt16) -> Void
    /// Waits for the process to end.
    public var wait: @Sendable () async -> StreamingExit
    /// Kills the process (the client went away).
    public var kill: @Sendable () -> Void

    public init(stdin: Int32? = nil, stdout: Int32? = nil, stderr: Int32? = nil, terminal: Int32? = nil,
                resize: @escaping @Sendable (UInt16, UInt16) -> Void = { _, _ in },
                wait: @escaping @Sendable () async -> StreamingExit,
                kill: @escaping @Sendable () -> Void) {
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.terminal = terminal
        self.resize = resize
        self.wait = wait
        self.kill = kill
    }
}

/// How a streamed process ended.
public enum StreamingExit: Sendable, Equatable {
    /// Its exit status (128 + N when killed by signal N).
    case exited(Int32)
    /// It could not be run or waited for.
    case failed(String)
}
