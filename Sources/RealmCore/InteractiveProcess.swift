import FascoCore

/// Which standard streams a command run for a client (CRI Exec) gets.
public struct ExecStdio: Sendable, Equatable {
    public var stdin: Bool
    public var stdout: Bool
    public var stderr: Bool
    /// A terminal instead of pipes: stdin and stdout go through it, there is no separate stderr.
    public var terminal: Bool

    public init(stdin: Bool, stdout: Bool, stderr: Bool, terminal: Bool) {
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.terminal = terminal
    }
}

/// A command started in a container whose stdio the caller relays: the descriptors are the
/// caller's to use and close. Its end is awaited with `wait`, which never blocks a cooperative thread.
public struct InteractiveProcess: Sendable {
    /// Write end of its stdin pipe.
    public var stdin: Int32?
    /// Read ends of its stdout and stderr pipes.
    public var stdout: Int32?
    public var stderr: Int32?
    /// The controlling side of its terminal (read for output, written for input).
    public var terminal: Int32?
    /// Sets the terminal's size (columns, rows); nothing without a terminal.
    public var resize: @Sendable (_ columns: UInt16, _ rows: UInt16) -> Void
    /// Its exit status (128 + N when killed by signal N), or why it could not run.
    public var wait: @Sendable () async -> Result<Int32, FascoError>
    /// Kills the command (its caller went away).
    public var kill: @Sendable () -> Void

    public init(stdin: Int32? = nil, stdout: Int32? = nil, stderr: Int32? = nil, terminal: Int32? = nil,
                resize: @escaping @Sendable (UInt16, UInt16) -> Void = { _, _ in },
                wait: @escaping @Sendable () async -> Result<Int32, FascoError>,
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
