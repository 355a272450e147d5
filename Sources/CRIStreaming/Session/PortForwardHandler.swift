import FascoCore
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Kubernetes' port-forward protocol (portforward.k8s.io over SPDY, as kubelet serves it):
/// per forwarded connection the client opens an error stream and a data stream carrying the
/// same `requestID` and `port` headers; Fasco connects to the port in the pod's network
/// and relays the data stream both ways, half-closes included. A failure is written as text
/// on the error stream; the error stream ends when the connection does.
final class PortForwardHandler: SessionHandler {
    private struct Pair {
        var errorStream: UInt32?
        var dataStream: UInt32?
        var port: String
        var created: ContinuousClock.Instant
        var connecting = false
        var relay: Relay?
        var early = ByteQueue()
        var dataFinished = false
    }

    let podSandboxID: String
    /// Ports the request allowed; empty allows any.
    let allowedPorts: Set<UInt16>
    let connect: @Sendable (UInt16) async throws(FascoError) -> Int32
    let streamCreationTimeout: Duration
    let logger: Logger
    private var pairs: [String: Pair] = [:]

    static let maxPairs = 128
    static let earlyDataLimit = 1 << 20

    init(podSandboxID: String, allowedPorts: [UInt16], streamCreationTimeout: Duration, logger: Logger,
         connect: @escaping @Sendable (UInt16) async throws(FascoError) -> Int32) {
        self.podSandboxID = podSandboxID
        self.allowedPorts = Set(allowedPorts)
        self.connect = connect
        self.streamCreationTimeout = streamCreationTimeout
        self.logger = logger
    }

    // MARK: streams

    func opened(_ stream: UInt32, headers: SPDYHeaders, finished: Bool, on connection: StreamingConnection) {
        let type = headers["streamtype"]
        guard type == "error" || type == "data" else {
            connection.reset(stream, status: .protocolError)
            return
        }
        // Without a request ID, kubelet pairs a data stream with the error stream opened just before it.
        var requestID = headers["requestid"] ?? ""
        if requestID.isEmpty { requestID = "stream-\(type == "error" ? stream : stream &- 2)" }
        guard requestID.utf8.count <= 64 else {
            connection.reset(stream, status: .protocolError)
            return
        }
        var pair = pairs[requestID] ?? Pair(port: headers["port"] ?? "", created: ContinuousClock.now)
        if pairs[requestID] == nil && pairs.count >= Self.maxPairs {
            connection.reset(stream, status: .refusedStream)
            return
        }
        if type == "error" {
            guard pair.errorStream == nil else {
                connection.reset(stream, status: .protocolError)
                return
            }
            pair.errorStream = stream
        } else {
            guard pair.dataStream == nil else {
                connection.reset(stream, status: .protocolError)
                return
            }
            pair.dataStream = stream
            pair.dataFinished = finished
        }
        pairs[requestID] = pair
        connection.accept(stream)
        if pair.errorStream != nil && pair.dataStream != nil { begin(requestID, connection) }
    }

    private func begin(_ requestID: String, _ connection: StreamingConnection) {
        guard var pair = pairs[requestID] else { return }
        guard let port = UInt16(pair.port), port > 0 else {
            fail(requestID, "invalid port \(pair.port.prefix(20).debugDescription)", connection)
            return
        }
        guard allowedPorts.isEmpty || allowedPorts.contains(port) else {
            fail(requestID, "port \(port) was not requested for forwarding", connection)
            return
        }
        pair.connecting = true
        pairs[requestID] = pair
        let connect = self.connect
        let mailbox = connection.mailbox
        Task.detached {
            do throws(FascoError) {
                mailbox.post(.connected(requestID: requestID, .success(try await connect(port))))
            } catch {
                mailbox.post(.connected(requestID: requestID, .failure(error)))
            }
        }
    }

    private func request(of stream: UInt32) -> (id: String, isData: Bool)? {
        for (id, pair) in pairs {
            if pair.dataStream == stream { return (id, true) }
            if pair.errorStream == stream { return (id, false) }
        }
        return nil
    }

    func received(_ bytes: [UInt8], on stream: UInt32, connection: StreamingConnection) {
        guard let (id, isData) = request(of: stream), isData, var pair = pairs[id] else { return }
        if let relay = pair.relay {
            relay.enqueue(bytes)
        } else if pair.early.count + bytes.count <= Self.earlyDataLimit {
            pair.early.append(bytes)
            pairs[id] = pair
        } else {
            fail(id, "the client sent more than \(Self.earlyDataLimit) bytes before the connection was made", connection)
        }
    }

    func finished(_ stream: UInt32, connection: StreamingConnection) {
        guard let (id, isData) = request(of: stream), isData, var pair = pairs[id] else { return }
        pair.dataFinished = true
        pairs[id] = pair
        pair.relay?.finishWriting()
    }

    func reset(_ stream: UInt32, connection: StreamingConnection) {
        guard let (id, isData) = request(of: stream), let pair = pairs[id] else { return }
        if isData {
            // The client is done with this connection (kubelet's client resets the data stream when the remote side ends).
            pair.relay?.close()
            if let error = pair.errorStream { connection.finish(error) }
            pairs.removeValue(forKey: id)
        } else {
            pairs[id]?.errorStream = nil
        }
    }

    // MARK: connections

    func deliver(_ mail: SessionMail, connection: StreamingConnection) {
        guard case .connected(let id, let result) = mail else {
            mail.discard()
            return
        }
        guard var pair = pairs[id], pair.connecting, pair.relay == nil else {
            mail.discard()
            return
        }
        switch result {
        case .failure(let error):
            fail(id, error.message, connection)
        case .success(let fd):
            let relay = Relay(fd: fd, kind: .socket, tag: id, outputStream: pair.dataStream, readable: true, writable: true)
            relay.enqueue(pair.early.takeAll())
            if pair.dataFinished { relay.finishWriting() }
            pair.relay = relay
            pairs[id] = pair
            connection.add(relay)
        }
    }

    func readEnded(_ relay: Relay, error: Int32?, connection: StreamingConnection) {
        guard let pair = pairs[relay.tag] else { return }
        if let error {
            fail(relay.tag, "reading from the forwarded port: \(String(cString: strerror(error)))", connection)
            return
        }
        // The pod's side ended its output: so does the data stream, and the error stream (no error).
        if let data = pair.dataStream { connection.finish(data) }
        if let errorStream = pair.errorStream { connection.finish(errorStream) }
    }

    func writeFailed(_ relay: Relay, error: Int32, connection: StreamingConnection) {
        fail(relay.tag, "writing to the forwarded port: \(String(cString: strerror(error)))", connection)
    }

    /// Reports `message` on the pair's error stream and ends the pair.
    private func fail(_ id: String, _ message: String, _ connection: StreamingConnection) {
        guard let pair = pairs.removeValue(forKey: id) else { return }
        logger.info("port forward failed", metadata: ["podSandboxID": "\(podSandboxID)", "port": "\(pair.port)", "error": "\(message)"])
        pair.relay?.close()
        if let error = pair.errorStream {
            connection.send(Array("error forwarding port \(pair.port) to pod \(podSandboxID): \(message)".utf8), on: error)
            connection.finish(error)
        }
        if let data = pair.dataStream { connection.finish(data) }
    }

    func tick(_ now: ContinuousClock.Instant, connection: StreamingConnection) {
        for (id, pair) in pairs {
            if pair.errorStream == nil || pair.dataStream == nil, pair.created.duration(to: now) > streamCreationTimeout {
                fail(id, "timed out waiting for the \(pair.dataStream == nil ? "data" : "error") stream", connection)
            } else if let relay = pair.relay, relay.isClosed {
                // Both directions are over: the streams were finished as each ended.
                if let data = pair.dataStream { connection.finish(data) }
                if let error = pair.errorStream { connection.finish(error) }
                pairs.removeValue(forKey: id)
            }
        }
    }

    func ended(connection: StreamingConnection) {
        for pair in pairs.values { pair.relay?.close() }
        pairs.removeAll()
    }
}
