import CLinux
import CRIStreaming
import Dispatch
import FascoCore
import KeyBroker
import Logging
import RealmAttestation
import RealmCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The guest API of every pod: CoCo's api-server-rest (`/info`, `/aa/evidence`, `/aa/aael`, and
/// the 404s of the features not offered), on 127.0.0.1:8006 inside the pod's network namespace
/// and on the unix socket `api.sock` of the pod's guest directory, which every container sees at
/// `/run/fasco/guest` (`GuestAPIPolicy`). The realm a request is answered for is the calling
/// container's, found from the kernel (`GuestCallerLookup`), never from what the caller sends.
///
/// Each pod's listeners belong to a thread of their own, which entered the pod's network
/// namespace; each connection is served on a thread of its own (made from that one, so in the
/// same namespace), one bounded request per connection. No Swift task ever blocks.
public final class GuestAPIServer: SystemRealmService, Sendable {
    public struct Limits: Sendable {
        /// The request head, at most (larger: 431).
        public var maxHeadBytes = 8 << 10
        /// The body, at most (larger: 413).
        public var maxBodyBytes = 16 << 10
        /// How long a request may take to arrive, and its answer to be taken.
        public var requestTimeout: Duration = .seconds(5)
        /// Connections served at once per pod, and in all; more are answered 503.
        public var maxConnectionsPerPod = 16
        public var maxConnections = 256

        public init() {}
    }

    /// Listener and connection threads need little stack.
    static let threadStack = 256 << 10

    let realms: RealmManager
    let logger: Logger
    let limits: Limits
    /// The TCP port in each pod's network namespace (CoCo's 8006; tests may pick another).
    let port: UInt16
    /// Fasco's version, for `/info`.
    let version: String
    private let pods = Mutex<[RealmID: PodListener]>([:])
    private let connections = Mutex<(total: Int, perPod: [RealmID: Int])>((0, [:]))

    public init(realms: RealmManager, version: String, logger: Logger, limits: Limits = Limits(), port: UInt16 = GuestAPIPolicy.port) {
        self.realms = realms
        self.version = version
        self.logger = logger
        self.limits = limits
        self.port = port
    }

    /// The pods served now.
    public var servedPods: [RealmID] { pods.withLock { Array($0.keys) } }

    // MARK: SystemRealmService

    public func systemRealmStarted(_ realm: SystemRealm, running runtime: RunningSystemRealm) async {
        await systemRealmStopping(realm.id)
        guard GuestAPIPolicy.isEnabled(annotations: realm.annotations) else { return }
        let directory = GuestAPIPolicy.directory(ofRealmDirectory: runtime.directory)
        let metadata: Logger.Metadata = ["podSandboxID": "\(realm.id)"]
        do throws(FascoError) {
            try FileSystem.makeDirectories(directory, mode: 0o755)
            _ = chmod(directory, 0o755)
        } catch {
            logger.warning("guest API: cannot make the pod's guest directory", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            return
        }
        let listener = PodListener(pod: realm.id, socketPath: directory + "/" + GuestAPIPolicy.socketName,
                                   networkNamespace: runtime.networkNamespace, port: port)
        let started: PodListener.Started = await withCheckedContinuation { continuation in
            let ok = DetachedThread.start(stackSize: Self.threadStack) { [self] in
                listener.run(server: self, ready: { continuation.resume(returning: $0) })
            }
            if !ok { continuation.resume(returning: .init(problems: ["cannot start the listener thread"], serving: false)) }
        }
        for problem in started.problems {
            logger.warning("guest API", metadata: metadata.merging(["error": "\(problem)"]) { $1 })
        }
        guard started.serving else { return }
        pods.withLock { $0[realm.id] = listener }
        logger.debug("guest API serving", metadata: metadata.merging(["socket": "\(listener.socketPath)"]) { $1 })
    }

    public func systemRealmStopping(_ realm: RealmID) async {
        guard let listener = pods.withLock({ $0.removeValue(forKey: realm) }) else { return }
        await listener.stop()
    }

    /// Stops every pod's listeners (daemon shutdown); the next daemon makes them again.
    public func shutdown() async {
        let all = pods.withLock { pods -> [PodListener] in
            defer { pods.removeAll() }
            return Array(pods.values)
        }
        for listener in all { await listener.stop() }
    }

    // MARK: connections

    /// Called on the listener's thread for each accepted connection.
    func accepted(_ fd: Int32, pod: RealmID, kind: PodListener.Kind) {
        SocketIO.setCloseOnExec(fd)
        SocketIO.setNonBlocking(fd)
        let admitted = connections.withLock { state -> Bool in
            let mine = state.perPod[pod, default: 0]
            guard state.total < limits.maxConnections, mine < limits.maxConnectionsPerPod else { return false }
            state.total += 1
            state.perPod[pod] = mine + 1
            return true
        }
        guard admitted else {
            _ = SocketIO.writeAll(fd, GuestHTTPResponse.text(503, "TOO MANY REQUESTS IN PROGRESS").bytes,
                                  deadline: ContinuousClock.now + .milliseconds(100))
            close(fd)
            return
        }
        // The slot is given back before the descriptor is closed: a client that sees its
        // connection end may count on the slot being free (a test opening 16 more at once did).
        let started = DetachedThread.start(stackSize: Self.threadStack) { [self] in
            serve(fd, pod: pod, kind: kind)
            leave(pod)
            close(fd)
        }
        if !started {
            leave(pod)
            close(fd)
        }
    }

    private func leave(_ pod: RealmID) {
        connections.withLock { state in
            state.total -= 1
            let left = state.perPod[pod, default: 1] - 1
            state.perPod[pod] = left > 0 ? left : nil
        }
    }

    /// One request, on the connection's thread.
    private func serve(_ fd: Int32, pod: RealmID, kind: PodListener.Kind) {
        let deadline = ContinuousClock.now + limits.requestTimeout
        var tcpPeer: (local: GuestCallerLookup.Endpoint, remote: GuestCallerLookup.Endpoint)?
        if kind == .tcp {
            guard let endpoints = GuestCallerLookup.endpoints(fd), endpoints.remote.isLoopback else {
                respond(fd, .text(403, "FORBIDDEN: only loopback peers are served"), deadline: deadline)
                return
            }
            tcpPeer = endpoints
        }
        let request: GuestHTTPRequest
        switch read(fd, deadline: deadline) {
        case .success(let read): request = read
        case .failure(let failure):
            if failure.status > 0 { respond(fd, .text(failure.status, "BAD REQUEST: \(failure.reason)"), deadline: deadline) }
            return
        }
        let processes: [Int32]
        if let tcpPeer {
            processes = GuestCallerLookup.tcpPeerProcesses(local: tcpPeer.local, remote: tcpPeer.remote)
        } else {
            processes = GuestCallerLookup.unixPeer(fd).map { [$0] } ?? []
        }
        let route = GuestAPIRoute.route(request)
        let response = wait { [self] in await answer(route, processes: processes, pod: pod, request: request) }
            ?? .text(500, "INTERNAL SERVER ERROR")
        respond(fd, response, deadline: deadline)
    }

    /// The answer to a routed request from the processes `processes` of pod `pod`.
    private func answer(_ route: GuestAPIRoute, processes: [Int32], pod: RealmID, request: GuestHTTPRequest) async -> GuestHTTPResponse {
        var metadata: Logger.Metadata = ["podSandboxID": "\(pod)", "method": "\(request.method)", "path": "\(request.path)"]
        guard let caller = await realms.guestCaller(processes: processes, inSystemRealm: pod) else {
            logger.info("guest API: caller is not a container of the pod", metadata: metadata.merging(["pids": "\(processes)"]) { $1 })
            return .text(403, "FORBIDDEN: the caller is not a running container of this pod")
        }
        metadata["containerID"] = "\(caller.id)"
        let response: GuestHTTPResponse
        switch route {
        case .answer(let fixed):
            response = fixed
        case .info:
            response = .json(GuestAPIInfo.json(version: version, confidential: realms.monitor?.confidential ?? false))
        case .evidence(let runtimeData):
            do throws(FascoError) {
                let token = try await realms.guestEvidence(caller, challenge: runtimeData, format: .legacy)
                response = .json("{\"token\":[" + token.map(String.init).joined(separator: ",") + "]}")
            } catch {
                response = failure(error)
            }
        case .resource(let path):
            if await !hasKeyBroker(caller) {
                response = GuestAPIRoute.resourceOff.fixedResponse
            } else {
                do throws(FascoError) {
                    response = .bytes(try await realms.releasedResource("kbs:///" + path, to: caller))
                } catch {
                    metadata["error"] = "\(error.message)"
                    response = keyFailure(error)
                }
            }
        case .kbsToken:
            if await !hasKeyBroker(caller) {
                response = GuestAPIRoute.attestationOff.fixedResponse
            } else {
                do throws(FascoError) {
                    let (token, pem) = try await realms.keyBrokerToken(for: caller)
                    response = .json(JSONText.object([("token", .string(token)), ("tee_keypair", .string(pem))]).canonical)
                } catch {
                    metadata["error"] = "\(error.message)"
                    response = keyFailure(error)
                }
            }
        case .event(let text):
            do throws(FascoError) {
                _ = try await realms.recordGuestEvent(caller, text: text)
                response = .json("{\"success\":\"true\"}")
            } catch {
                response = .json(GuestAPIInfo.failureJSON(error.message), status: error.code == .invalidArgument ? 400 : 500)
            }
        }
        metadata["status"] = "\(response.status)"
        // One line per request: debug when served, info for the caller's mistakes, error for Fasco's.
        logger.log(level: response.status >= 500 ? .error : response.status >= 400 ? .info : .debug, "guest API", metadata: metadata)
        return response
    }

    private func hasKeyBroker(_ caller: ContainerRealm) async -> Bool {
        (try? await realms.hasKeyBroker(caller)) ?? false
    }

    /// A key-release failure, its status following the broker's: unreachable 503, refused 403,
    /// missing 404, a bad resource path 400, else 500; the text names the broker, the step and
    /// its problem type.
    private func keyFailure(_ error: FascoError) -> GuestHTTPResponse {
        let status: Int
        switch error.code {
        case .unavailable, .deadlineExceeded: status = 503
        case .permissionDenied, .unauthenticated: status = 403
        case .notFound: status = 404
        case .invalidArgument: status = 400
        default: status = 500
        }
        return .text(status, error.message)
    }

    private func failure(_ error: FascoError) -> GuestHTTPResponse {
        .text(error.code == .invalidArgument ? 400 : 500, error.message)
    }

    /// Runs `body` as a task and blocks this (dedicated, never cooperative) thread until it ends.
    private func wait<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T? {
        let box = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        Task {
            let result = await body()
            box.value.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        return box.value.withLock { $0 }
    }

    private func respond(_ fd: Int32, _ response: GuestHTTPResponse, deadline: ContinuousClock.Instant) {
        _ = SocketIO.writeAll(fd, response.bytes, deadline: max(deadline, ContinuousClock.now + .milliseconds(500)))
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    /// Reads one request: the head (at most `maxHeadBytes`), then a body of its Content-Length
    /// (at most `maxBodyBytes`), all before `deadline`. A failure with status 0 gets no answer
    /// (the peer went away).
    private func read(_ fd: Int32, deadline: ContinuousClock.Instant) -> Result<GuestHTTPRequest, GuestHTTPRequest.Failure> {
        var buffer: [UInt8] = []
        var headEnd: Int?
        while headEnd == nil {
            guard buffer.count < limits.maxHeadBytes else {
                return .failure(.init(status: 431, reason: "the request head is larger than \(limits.maxHeadBytes) bytes"))
            }
            switch SocketIO.read(fd, limit: limits.maxHeadBytes - buffer.count) {
            case .bytes(let bytes):
                buffer += bytes
                headEnd = GuestHTTPRequest.headEnd(in: buffer)
            case .wouldBlock:
                guard SocketIO.wait(fd, events: Int16(POLLIN), until: deadline) else {
                    return .failure(.init(status: 408, reason: "the request did not arrive within \(limits.requestTimeout)"))
                }
            case .endOfFile, .failed:
                return .failure(.init(status: 0, reason: "closed"))
            }
        }
        guard let headEnd else { return .failure(.init(status: 0, reason: "closed")) }
        var request: GuestHTTPRequest
        let length: Int
        do throws(GuestHTTPRequest.Failure) {
            request = try GuestHTTPRequest.parseHead(buffer[..<headEnd])
            length = try request.contentLength(limit: limits.maxBodyBytes)
        } catch {
            return .failure(error)
        }
        if length > 0, request.first("expect")?.lowercased() == "100-continue", buffer.count == headEnd {
            _ = SocketIO.writeAll(fd, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8), deadline: deadline)
        }
        var body = Array(buffer[headEnd...])
        while body.count < length {
            switch SocketIO.read(fd, limit: length - body.count) {
            case .bytes(let bytes): body += bytes
            case .wouldBlock:
                guard SocketIO.wait(fd, events: Int16(POLLIN), until: deadline) else {
                    return .failure(.init(status: 408, reason: "the request body did not arrive within \(limits.requestTimeout)"))
                }
            case .endOfFile, .failed:
                return .failure(.init(status: 400, reason: "the body ended before its Content-Length"))
            }
        }
        // Bytes beyond the announced body (pipelined requests) are not served: one request per connection.
        request.body = Array(body.prefix(length))
        return .success(request)
    }
}
