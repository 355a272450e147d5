#if canImport(Glibc)
import Glibc
#endif

/// One container as a realm supervisor's `list` reports it.
public struct SupervisorContainer: Sendable, Equatable {
    public enum State: String, Sendable, Equatable {
        /// The runtime's create is still running; there is no container pid yet.
        case creating
        case running
        case exited
    }

    public var id: String
    /// The container process; 0 while creating.
    public var pid: pid_t
    public var state: State
    /// Set once the container exited.
    public var exit: SupervisorExit?

    public init(id: String, pid: pid_t, state: State, exit: SupervisorExit?) {
        self.id = id
        self.pid = pid
        self.state = state
        self.exit = exit
    }
}
