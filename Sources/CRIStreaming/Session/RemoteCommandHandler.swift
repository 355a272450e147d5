import FascoCore
import FoundationEssentials
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Kubernetes' remote command protocol (channel.k8s.io v2-v4, as kubelet serves it over
/// SPDY) for exec and attach: the client opens one stream per role (header `streamType`:
/// error, stdin, stdout, stderr, resize), the process starts once every expected stream is
/// there, its output is relayed, and its end is written on the error stream (v4: a
/// metav1.Status JSON; v2/v3: the failure's text) before the connection closes.
final class RemoteCommandHandler: SessionHandler {
    enum Role: String, CaseIterable {
        case error, stdin, stdout, stderr, resize
    }

    /// What the client asked for (from the CRI request behind the token).
    struct Options {
        var stdin: Bool
        var stdout: Bool
        var stderr: Bool
        var tty: Bool
    }

    private enum Phase {
        case waitingForStreams(deadline: ContinuousClock.Instant)
        case starting
        case running
        case done
    }

    let options: Options
    /// 2, 3 or 4 (v5 speaks v4 over SPDY).
    let version: Int
    let start: @Sendable () async throws(FascoError) -> StreamingProcess
    let logger: Logger
    /// How long output is still read after the process exits (descendants may hold it open);
    /// nil waits for the output's end (attach: the end of the output is the end).
    let drainGrace: Duration?

    private var phase: Phase
    private var roles: [Role: UInt32] = [:]
    private var process: StreamingProcess?
    private var stdinRelay: Relay?
    private var outputRelays: [Relay] = []
    private var earlyStdin = ByteQueue()
    private var stdinFinished = false
    private var resizeBuffer: [UInt8] = []
    private var pendingSize: (width: UInt16, height: UInt16)?
    private var exit: StreamingExit?
    private var drainDeadline: ContinuousClock.Instant?

    static let earlyStdinLimit = 1 << 20

    init(options: Options, version: Int, streamCreationTimeout: Duration, drainGrace: Duration? = .seconds(2), logger: Logger,
         start: @escaping @Sendable () async throws(FascoError) -> StreamingProcess) {
        self.options = options
        self.version = version
        self.start = start
        self.logger = logger
        self.drainGrace = drainGrace
        self.phase = .waitingForStreams(deadline: ContinuousClock.now + streamCreationTimeout)
    }

    /// The streams the client must open before the process starts (kubelet's count: error,
    /// each requested stdio stream, stderr only without a tty, resize with a tty from v3).
    var expectedRoles: Set<Role> {
        var roles: Set<Role> = [.error]
        if options.stdin { roles.insert(.stdin) }
        if options.stdout { roles.insert(.stdout) }
        if options.stderr && !options.tty { roles.insert(.stderr) }
        if options.tty && version >= 3 { roles.insert(.resize) }
        return roles
    }

    // MARK: streams

    func opened(_ stream: UInt32, headers: SPDYHeaders, finished: Bool, on connection: StreamingConnection) {
        guard let type = headers["streamtype"], let role = Role(rawValue: type), roles[role] == nil else {
            logger.debug("refusing stream", metadata: ["streamType": "\(headers["streamtype"] ?? "")"])
            connection.reset(stream, status: .protocolError)
            return
        }
        roles[role] = stream
        connection.accept(stream)
        if finished { self.finished(stream, connection: connection) }
        if case .waitingForStreams = phase, expectedRoles.isSubset(of: Set(roles.keys)) {
            phase = .starting
            let start = self.start
            let mailbox = connection.mailbox
            Task.detached {
                do throws(FascoError) {
                    mailbox.post(.started(.success(try await start())))
                } catch {
                    mailbox.post(.started(.failure(error)))
                }
            }
        }
    }

    private func role(of stream: UInt32) -> Role? {
        roles.first { $0.value == stream }?.key
    }

    func received(_ bytes: [UInt8], on stream: UInt32, connection: StreamingConnection) {
        switch role(of: stream) {
        case .stdin:
            if let stdinRelay {
                stdinRelay.enqueue(bytes)
            } else if case .done = phase {
                return
            } else if earlyStdin.count + bytes.count <= Self.earlyStdinLimit {
                earlyStdin.append(bytes)
            } else {
                logger.info("stdin arrived faster than the process started; dropping the stream")
                connection.reset(stream, status: .cancel)
            }
        case .resize:
            resize(bytes)
        case .error, .stdout, .stderr, nil:
            break
        }
    }

    func finished(_ stream: UInt32, connection: StreamingConnection) {
        guard role(of: stream) == .stdin else { return }
        stdinFinished = true
        // A terminal's input has no end of file of its own: the process reads ^D when the user sends it.
        if !options.tty { stdinRelay?.finishWriting() }
    }

    func reset(_ stream: UInt32, connection: StreamingConnection) {
        if role(of: stream) == .stdin { finished(stream, connection: connection) }
    }

    /// Terminal sizes arrive as JSON objects, one per line ({"Width":80,"Height":24}).
    private func resize(_ bytes: [UInt8]) {
        resizeBuffer += bytes
        while let newline = resizeBuffer.firstIndex(of: 10) {
            let line = Array(resizeBuffer[..<newline])
            resizeBuffer.removeFirst(newline + 1)
            apply(line)
        }
        // A size is a few dozen bytes; without a newline, try it whole (and never hoard).
        if !resizeBuffer.isEmpty, apply(resizeBuffer) || resizeBuffer.count > 4096 { resizeBuffer.removeAll() }
    }

    @discardableResult
    private func apply(_ line: [UInt8]) -> Bool {
        struct Size: Decodable {
            var width: UInt16
            var height: UInt16
            enum CodingKeys: String, CodingKey { case Width, Height, width, height }
            init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: CodingKeys.self)
                width = try container.decodeIfPresent(UInt16.self, forKey: .Width) ?? container.decode(UInt16.self, forKey: .width)
                height = try container.decodeIfPresent(UInt16.self, forKey: .Height) ?? container.decode(UInt16.self, forKey: .height)
            }
        }
        guard let size = try? JSONDecoder().decode(Size.self, from: Data(line)) else { return false }
        if process == nil {
            pendingSize = (size.width, size.height)
        } else if let process, case .running = phase, exit == nil, outputRelays.contains(where: { !$0.isClosed }) {
            // Only while the process and its terminal are there: a closed descriptor's number
            // (or an exited runtime's pid) may belong to someone else by now.
            process.resize(size.width, size.height)
        }
        return true
    }

    // MARK: the process

    func deliver(_ mail: SessionMail, connection: StreamingConnection) {
        switch mail {
        case .started(.success(let process)):
            guard case .starting = phase else {
                mail.discard()
                return
            }
            started(process, connection)
        case .started(.failure(let error)):
            exit = .failed(error.message)
            complete(connection)
        case .exited(let exit):
            self.exit = exit
            drainDeadline = drainGrace.map { ContinuousClock.now + $0 }
            completeIfDrained(connection)
        case .connected:
            mail.discard()
        }
    }

    private func started(_ process: StreamingProcess, _ connection: StreamingConnection) {
        self.process = process
        phase = .running
        var unused: [Int32] = []
        if let terminal = process.terminal {
            let relay = Relay(fd: terminal, kind: .terminal, tag: "terminal", outputStream: roles[.stdout], readable: true,
                              writable: roles[.stdin] != nil)
            outputRelays.append(relay)
            if roles[.stdin] != nil { stdinRelay = relay }
            connection.add(relay)
            for fd in [process.stdin, process.stdout, process.stderr] { if let fd { unused.append(fd) } }
        } else {
            if let fd = process.stdout {
                let relay = Relay(fd: fd, kind: .pipe, tag: "stdout", outputStream: roles[.stdout], readable: true, writable: false)
                outputRelays.append(relay)
                connection.add(relay)
            }
            if let fd = process.stderr {
                let relay = Relay(fd: fd, kind: .pipe, tag: "stderr", outputStream: roles[.stderr], readable: true, writable: false)
                outputRelays.append(relay)
                connection.add(relay)
            }
            if let fd = process.stdin {
                if roles[.stdin] != nil {
                    let relay = Relay(fd: fd, kind: .pipe, tag: "stdin", outputStream: nil, readable: false, writable: true)
                    stdinRelay = relay
                    connection.add(relay)
                } else {
                    unused.append(fd)
                }
            }
        }
        for fd in unused { close(fd) }
        if let stdinRelay {
            stdinRelay.enqueue(earlyStdin.takeAll())
            if stdinFinished && !options.tty { stdinRelay.finishWriting() }
        }
        if let pendingSize { process.resize(pendingSize.width, pendingSize.height) }
        let mailbox = connection.mailbox
        Task.detached { mailbox.post(.exited(await process.wait())) }
    }

    func readEnded(_ relay: Relay, error: Int32?, connection: StreamingConnection) {
        completeIfDrained(connection)
    }

    func writeFailed(_ relay: Relay, error: Int32, connection: StreamingConnection) {
        // The process closed its stdin (or exited): later input has nowhere to go.
    }

    func tick(_ now: ContinuousClock.Instant, connection: StreamingConnection) {
        switch phase {
        case .waitingForStreams(let deadline) where now >= deadline:
            logger.info("client did not open its streams in time; closing")
            phase = .done
            connection.close()
        case .running:
            if let drainDeadline, now >= drainDeadline { complete(connection) }
        default:
            break
        }
    }

    func ended(connection: StreamingConnection) {
        // The client is gone: a command still running is killed (its exit has no reader).
        if case .running = phase, exit == nil { process?.kill() }
        phase = .done
    }

    private func completeIfDrained(_ connection: StreamingConnection) {
        guard case .running = phase, exit != nil, outputRelays.allSatisfy({ !$0.reading }) else { return }
        complete(connection)
    }

    /// Writes how the command ended and closes every stream and the connection.
    private func complete(_ connection: StreamingConnection) {
        if case .done = phase { return }
        phase = .done
        let exit = self.exit ?? .failed("the command's end is unknown")
        if let stream = roles[.error] {
            if version >= 4 {
                connection.send(KubernetesStatus.of(exit).json, on: stream)
            } else if let message = KubernetesStatus.of(exit).message {
                connection.send(Array(message.utf8), on: stream)
            }
        }
        for role in Role.allCases { if let stream = roles[role] { connection.finish(stream) } }
        connection.close()
    }
}
