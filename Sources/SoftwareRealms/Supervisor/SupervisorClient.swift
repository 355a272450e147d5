import FascoCore
import RealmCore
#if canImport(Glibc)
import Glibc
#endif

/// Speaks to the supervisor of one System Realm (`fasco-realm`) over `directory/control.sock`.
///
/// Stateless: every call opens its own connection, so a client may be made again at any time,
/// for instance by a daemon that restarted and reconnects to supervisors that outlived it.
/// Socket I/O runs on threads of its own (`BlockingWork`), never on Swift's cooperative pool;
/// cancelling the calling task abandons the request.
public struct SupervisorClient: Sendable {
    /// The realm's state directory.
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    public var socketPath: String { directory + "/control.sock" }

    /// Runs `argv` (a runtime's `create ... --pid-file pidFile id`) in the realm and returns the
    /// pid of the container process it left, which the supervisor now tracks. The container's
    /// stdout and stderr go to `logPath` in the CRI log format.
    ///
    /// When the runtime fails, the error's `cause` is a `SupervisorCreateFailure` with its exit
    /// status and output. A timeout abandons the answer, not the create: `list` shows the
    /// container if the runtime succeeds later.
    ///
    /// With `stdin`, the container's stdin is a pipe the supervisor keeps for `attach`.
    /// `consoleSocket`: a container with a terminal, which `argv` passes as its `--console-socket`
    /// (the supervisor listens there, and logs and attaches the terminal).
    public func create(id: String, pidFile: String, logPath: String, argv: [String], stdin: ContainerStdin? = nil,
                       consoleSocket: String? = nil, timeout: Duration? = .seconds(120)) async throws(FascoError) -> pid_t {
        try SupervisorProtocol.validate(id: id)
        guard pidFile.hasPrefix("/"), logPath.hasPrefix("/") else {
            throw .invalidArgument("the pid file and log paths must be absolute: \(pidFile), \(logPath)")
        }
        guard let program = argv.first, !program.isEmpty else { throw .invalidArgument("create \(id): empty argv") }
        guard argv.count <= SupervisorProtocol.maxArguments else {
            throw .invalidArgument("create \(id): \(argv.count) arguments; the realm supervisor takes at most \(SupervisorProtocol.maxArguments)")
        }
        let verb: [String]
        if let consoleSocket {
            guard consoleSocket.hasPrefix("/"), consoleSocket.utf8.count < 108 else {
                throw .invalidArgument("a console socket must be an absolute path under 108 bytes: \(consoleSocket)")
            }
            verb = ["create-tty", stdin?.rawValue ?? "none", consoleSocket]
        } else {
            verb = stdin.map { ["create-stdin", $0.rawValue] } ?? ["create"]
        }
        let request = try SupervisorProtocol.encode(verb + [id, pidFile, logPath] + argv)
        return try SupervisorProtocol.parseCreate(try await exchange(request, timeout: timeout), id: id)
    }

    /// The running container's stdin write end (when it has a stdin, and, for a stdin-once
    /// container, only on the first attach) and the read ends of pipes that carry a copy of
    /// its stdout and stderr from now on. The descriptors are the caller's.
    public func attach(id: String) async throws(FascoError) -> SupervisorAttachment {
        try SupervisorProtocol.validate(id: id)
        let request = try SupervisorProtocol.encode(["attach", id])
        let connection = SupervisorConnection(socketPath: socketPath)
        let (reply, descriptors) = try await BlockingWork.run { () throws(FascoError) -> ([UInt8], [Int32]) in
            try connection.exchangeWithDescriptors(request, timeout: .seconds(30))
        }
        let fields = SupervisorProtocol.fields(reply)
        let withStdin = fields.count == 2 && fields[0] == "ok" && fields[1] == "1"
        guard fields.count == 2, fields[0] == "ok", descriptors.count == (withStdin ? 3 : 2) else {
            for fd in descriptors { close(fd) }
            throw SupervisorProtocol.error(in: reply, command: "attach \(id)") ?? SupervisorProtocol.unexpected(reply, command: "attach \(id)")
        }
        return withStdin ? SupervisorAttachment(stdin: descriptors[0], stdout: descriptors[1], stderr: descriptors[2])
            : SupervisorAttachment(stdin: nil, stdout: descriptors[0], stderr: descriptors[1])
    }

    /// Sets the size of a terminal container's terminal.
    public func resize(id: String, columns: UInt16, rows: UInt16) async throws(FascoError) {
        try SupervisorProtocol.validate(id: id)
        guard columns > 0, rows > 0 else { throw .invalidArgument("a terminal needs at least one column and one row") }
        let reply = try await exchange(try SupervisorProtocol.encode(["resize", id, String(columns), String(rows)]), timeout: .seconds(30))
        try SupervisorProtocol.expectOK(reply, command: "resize \(id)")
    }

    /// Closes and reopens the container's log file (after it was rotated away).
    public func reopen(id: String) async throws(FascoError) {
        try SupervisorProtocol.validate(id: id)
        let reply = try await exchange(try SupervisorProtocol.encode(["reopen", id]), timeout: .seconds(30))
        try SupervisorProtocol.expectOK(reply, command: "reopen \(id)")
    }

    /// Every container the supervisor tracks, running or exited and not yet forgotten.
    public func list() async throws(FascoError) -> [SupervisorContainer] {
        try SupervisorProtocol.parseList(try await exchange(try SupervisorProtocol.encode(["list"]), timeout: .seconds(30)))
    }

    /// Returns when the container has exited (at once if it already has), after its output is
    /// in its log and its exit is on disk.
    public func wait(id: String) async throws(FascoError) -> SupervisorExit {
        try SupervisorProtocol.validate(id: id)
        let reply = try await exchange(try SupervisorProtocol.encode(["wait", id]), timeout: nil)
        return try SupervisorProtocol.parseExit(reply, command: "wait \(id)")
    }

    /// Drops an exited container's record and its persisted exit. Unknown IDs succeed.
    public func forget(id: String) async throws(FascoError) {
        try SupervisorProtocol.validate(id: id)
        let reply = try await exchange(try SupervisorProtocol.encode(["forget", id]), timeout: .seconds(30))
        try SupervisorProtocol.expectOK(reply, command: "forget \(id)")
    }

    /// Kills every process of the realm, removes the control socket and pid file and lets the
    /// supervisor exit. A supervisor that is not running (no socket, or nobody listening on
    /// it) counts as shut down.
    public func shutdown(timeout: Duration = .seconds(30)) async throws(FascoError) {
        let reply: [UInt8]
        do {
            reply = try await exchange(try SupervisorProtocol.encode(["shutdown"]), timeout: timeout)
        } catch let error where error.cause is SupervisorConnection.NotRunning {
            return
        }
        try SupervisorProtocol.expectOK(reply, command: "shutdown")
    }

    /// The exit persisted for `id`, readable whether or not the supervisor still runs.
    public func persistedExit(id: String) throws(FascoError) -> SupervisorExit? {
        try SupervisorExit.persisted(directory: directory, id: id)
    }

    /// One request datagram, one reply datagram, on a thread of its own.
    func exchange(_ request: [UInt8], timeout: Duration?) async throws(FascoError) -> [UInt8] {
        let connection = SupervisorConnection(socketPath: socketPath)
        let result: Result<[UInt8], FascoError> = await withTaskCancellationHandler {
            await .of { () throws(FascoError) -> [UInt8] in
                try await BlockingWork.run { () throws(FascoError) -> [UInt8] in
                    try connection.exchange(request, timeout: timeout)
                }
            }
        } onCancel: {
            connection.cancel()
        }
        return try result.get()
    }
}

/// What `attach` hands over.
public struct SupervisorAttachment: Sendable, Equatable {
    public var stdin: Int32?
    public var stdout: Int32
    public var stderr: Int32
}
