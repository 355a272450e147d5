/// How a process ended, decoded from a waitpid(2) status.
public enum ProcessExit: Sendable, Equatable, CustomStringConvertible {
    /// exit(2) with this status (0-255).
    case exited(Int32)
    /// Killed by this signal.
    case signaled(Int32)

    /// Decodes a waitpid status (WIFEXITED / WEXITSTATUS / WIFSIGNALED / WTERMSIG, which are
    /// C macros Swift cannot import). A stopped or continued status is not an end: nil.
    public init?(waitStatus status: Int32) {
        let low = status & 0x7f
        if low == 0 {
            self = .exited((status >> 8) & 0xff)
        } else if low != 0x7f && status != 0xffff {
            self = .signaled(low)
        } else {
            return nil
        }
    }

    public var succeeded: Bool { self == .exited(0) }

    /// The shell's `$?`: the exit status, or 128 plus the signal number.
    public var shellStatus: Int32 {
        switch self {
        case .exited(let code): code
        case .signaled(let signal): 128 + signal
        }
    }

    public var description: String {
        switch self {
        case .exited(let code): "exit status \(code)"
        case .signaled(let signal): "killed by signal \(signal)"
        }
    }
}
