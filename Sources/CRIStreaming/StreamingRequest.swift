/// What a one-time streaming URL was handed out for: the validated CRI request, kept by the
/// server until the client comes back (or the token expires).
public enum StreamingRequest: Sendable, Equatable {
    case exec(Exec)
    case attach(Attach)
    case portForward(PortForward)

    /// CRI `ExecRequest`: run `command` in a running container with streamed stdio.
    public struct Exec: Sendable, Equatable {
        public var containerID: String
        public var command: [String]
        public var tty: Bool
        public var stdin: Bool
        public var stdout: Bool
        public var stderr: Bool

        public init(containerID: String, command: [String], tty: Bool, stdin: Bool, stdout: Bool, stderr: Bool) {
            self.containerID = containerID
            self.command = command
            self.tty = tty
            self.stdin = stdin
            self.stdout = stdout
            self.stderr = stderr
        }
    }

    /// CRI `AttachRequest`: the container's own stdio.
    public struct Attach: Sendable, Equatable {
        public var containerID: String
        public var tty: Bool
        public var stdin: Bool
        public var stdout: Bool
        public var stderr: Bool

        public init(containerID: String, tty: Bool, stdin: Bool, stdout: Bool, stderr: Bool) {
            self.containerID = containerID
            self.tty = tty
            self.stdin = stdin
            self.stdout = stdout
            self.stderr = stderr
        }
    }

    /// CRI `PortForwardRequest`: TCP connections to ports of the pod's network namespace.
    public struct PortForward: Sendable, Equatable {
        public var podSandboxID: String
        /// The ports asked for; empty means any (the SPDY protocol names a port per stream).
        public var ports: [UInt16]

        public init(podSandboxID: String, ports: [UInt16]) {
            self.podSandboxID = podSandboxID
            self.ports = ports
        }
    }

    /// The URL path segment the request is served under.
    var pathPrefix: String {
        switch self {
        case .exec: "exec"
        case .attach: "attach"
        case .portForward: "portforward"
        }
    }
}
