import FascoCore
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// One upgraded connection, served by a loop on its own thread: streams in and out through
/// its `Framing` (SPDY/3.1, or WebSocket), local descriptors relayed to streams, messages
/// from asynchronous work. Every buffer is bounded: past the high-water marks the loop stops
/// reading whichever side is ahead.
final class StreamingConnection {
    struct Limits {
        /// Streams open at once; more are refused.
        var maxStreams = 256
        /// Bytes queued for the client before relays stop being read.
        var outputHighWater = 1 << 20
        /// Bytes queued for local descriptors before the client stops being read.
        var relayHighWater = 1 << 20
        /// How long the final frames may take to flush, and the client to close, at the end.
        var closingGrace: Duration = .seconds(5)
        /// A connection without any frame from the client for this long is closed.
        var idleTimeout: Duration = .seconds(4 * 3600)
    }

    private struct StreamState {
        var localFinished = false
        var remoteFinished = false
    }

    private enum Phase {
        case open
        /// GOAWAY queued: flush, half-close, wait for the client to close.
        case closing(deadline: ContinuousClock.Instant)
        case closed
    }

    let socket: Int32
    let framing: any Framing
    let mailbox: Mailbox
    let limits: Limits
    let logger: Logger
    private var input: ByteQueue
    private var output = ByteQueue()
    private var streams: [UInt32: StreamState] = [:]
    private var lastStream: UInt32 = 0
    private var phase = Phase.open
    private var lastActivity = ContinuousClock.now
    private var handlerEnded = false
    private var halfClosed = false
    private(set) var relays: [Relay] = []

    init(socket: Int32, framing: any Framing, mailbox: Mailbox, leftover: [UInt8], limits: Limits, logger: Logger) {
        self.socket = socket
        self.framing = framing
        self.mailbox = mailbox
        self.input = ByteQueue(leftover)
        self.limits = limits
        self.logger = logger
    }

    // MARK: what handlers call

    /// Replies to a client stream (SPDY: SYN_REPLY, no headers).
    func accept(_ stream: UInt32) {
        send(framing.accept(stream))
    }

    /// Sends `bytes` on `stream` (in pieces of at most the framing's chunk size).
    func send(_ bytes: [UInt8], on stream: UInt32) {
        guard let state = streams[stream], !state.localFinished, !bytes.isEmpty else { return }
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + framing.maxChunk)
            send(framing.data(bytes[offset..<end], on: stream))
            offset = end
        }
    }

    /// Ends Fasco's side of `stream` (SPDY: an empty DATA frame with FIN); idempotent.
    func finish(_ stream: UInt32) {
        guard var state = streams[stream], !state.localFinished else { return }
        state.localFinished = true
        send(framing.finish(stream))
        update(stream, state)
    }

    /// Resets `stream` and forgets it.
    func reset(_ stream: UInt32, status: SPDYFrame.RstStatus = .cancel) {
        guard streams.removeValue(forKey: stream) != nil else { return }
        send(framing.reset(stream, status: status))
    }

    func add(_ relay: Relay) { relays.append(relay) }

    /// Bytes queued for local descriptors (the client is read only below the high-water mark).
    private var relayBacklog: Int { relays.reduce(0) { $0 + $1.pending.count } }

    /// Says goodbye (SPDY: GOAWAY; WebSocket: a close frame) and closes once the output is flushed.
    func close(protocolError: Bool = false) {
        guard case .open = phase else { return }
        send(framing.goodbye(lastStream: lastStream, protocolError: protocolError))
        phase = .closing(deadline: ContinuousClock.now + limits.closingGrace)
    }

    var isClosing: Bool {
        if case .open = phase { return false }
        return true
    }

    // MARK: the loop

    /// Serves the connection until it is closed; closes the socket, the relays and the mailbox.
    func run(_ handler: SessionHandler) {
        defer {
            endHandler(handler)
            for relay in relays { relay.close() }
            relays.removeAll()
            mailbox.close()
            Glibc.close(socket)
        }
        // Frames that arrived with the upgrade request.
        processInput(handler)
        while true {
            if case .closed = phase { return }
            var entries: [pollfd] = []
            var socketEvents: Int16 = 0
            let reading: Bool
            switch phase {
            case .open: reading = relayBacklog < limits.relayHighWater
            case .closing: reading = output.isEmpty  // only to see the client close, once everything is sent
            case .closed: reading = false
            }
            if reading { socketEvents |= Int16(POLLIN) }
            if !output.isEmpty { socketEvents |= Int16(POLLOUT) }
            entries.append(pollfd(fd: socket, events: socketEvents, revents: 0))
            entries.append(pollfd(fd: handlerEnded ? -1 : mailbox.fd, events: Int16(POLLIN), revents: 0))
            let readRelays = output.count < limits.outputHighWater
            let polled = relays
            for relay in polled {
                var events: Int16 = 0
                if relay.reading && readRelays { events |= Int16(POLLIN) }
                if relay.writing && !relay.pending.isEmpty { events |= Int16(POLLOUT) }
                entries.append(pollfd(fd: relay.isClosed ? -1 : relay.fd, events: events, revents: 0))
            }
            var timeout: Int32 = 1000
            if case .closing(let deadline) = phase { timeout = min(timeout, SocketIO.milliseconds(until: deadline)) }
            let ready = poll(&entries, nfds_t(entries.count), timeout)
            if ready < 0 && errno != EINTR {
                logger.warning("streaming poll failed", metadata: ["error": "\(FileSystem.errnoText)"])
                return
            }
            let socketReady = entries[0].revents
            if socketReady & Int16(POLLOUT) != 0 { flush() }
            if socketReady & Int16(POLLIN | POLLHUP | POLLERR) != 0 && reading { readSocket(handler) }
            if entries[1].revents != 0, !handlerEnded {
                for mail in mailbox.drain() { handler.deliver(mail, connection: self) }
            }
            for (index, relay) in polled.enumerated() where !relay.isClosed {
                let revents = entries[index + 2].revents
                if revents == 0 { continue }
                if relay.writing && !relay.pending.isEmpty && revents & Int16(POLLOUT | POLLERR | POLLHUP) != 0 {
                    writeRelay(relay, handler)
                }
                if relay.reading && revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                    readRelay(relay, handler)
                }
            }
            relays.removeAll { $0.isClosed }
            let now = ContinuousClock.now
            if !handlerEnded { handler.tick(now, connection: self) }
            switch phase {
            case .open:
                if lastActivity.duration(to: now) > limits.idleTimeout {
                    logger.info("streaming connection idle too long; closing")
                    close()
                }
            case .closing(let deadline):
                if output.isEmpty && !halfClosed {
                    halfClosed = true
                    shutdown(socket, Int32(SHUT_WR))
                }
                if now >= deadline { phase = .closed }
            case .closed:
                break
            }
            if !output.isEmpty { flush() }
        }
    }

    private func endHandler(_ handler: SessionHandler) {
        guard !handlerEnded else { return }
        handlerEnded = true
        handler.ended(connection: self)
    }

    // MARK: socket

    private func send(_ bytes: [UInt8]) {
        if case .closed = phase { return }
        output.append(bytes)
    }

    private func flush() {
        while !output.isEmpty {
            switch SocketIO.write(socket, output, isSocket: true) {
            case .wrote(let count): output.removeFirst(count)
            case .wouldBlock: return
            case .failed:
                output.removeAll()
                phase = .closed
                return
            }
        }
    }

    private func readSocket(_ handler: SessionHandler) {
        // A bounded amount per turn, so relays and mail get their share.
        for _ in 0..<8 {
            switch SocketIO.read(socket, limit: 64 << 10) {
            case .bytes(let bytes):
                if case .closing = phase { continue }  // draining until the client closes
                input.append(bytes)
                lastActivity = ContinuousClock.now
                processInput(handler)
                if case .open = phase {} else { return }
                if relayBacklog >= limits.relayHighWater { return }
            case .wouldBlock:
                return
            case .endOfFile, .failed:
                // The client is gone (or finished after our GOAWAY).
                endHandler(handler)
                phase = .closed
                return
            }
        }
    }

    /// Handles every complete event in the input.
    private func processInput(_ handler: SessionHandler) {
        while case .open = phase {
            let event: FramingEvent?
            do {
                event = try framing.next(&input)
            } catch {
                logger.info("streaming protocol error; closing", metadata: ["error": "\(error)"])
                endHandler(handler)
                close(protocolError: true)
                return
            }
            guard let event else { return }
            handle(event, handler)
        }
    }

    private func handle(_ event: FramingEvent, _ handler: SessionHandler) {
        switch event {
        case .opened(let id, let headers, let finished):
            guard streams[id] == nil else {
                send(framing.reset(id, status: .streamInUse))
                return
            }
            guard streams.count < limits.maxStreams else {
                send(framing.reset(id, status: .refusedStream))
                return
            }
            lastStream = max(lastStream, id)
            streams[id] = StreamState(localFinished: false, remoteFinished: finished)
            handler.opened(id, headers: headers, finished: finished, on: self)
        case .data(let id, let payload, let finished):
            guard let state = streams[id], !state.remoteFinished else { return }
            if !payload.isEmpty { handler.received(payload, on: id, connection: self) }
            if finished { remoteFinished(id, handler) }
        case .finished(let id):
            remoteFinished(id, handler)
        case .reset(let id):
            guard streams.removeValue(forKey: id) != nil else { return }
            handler.reset(id, connection: self)
        case .answer(let bytes):
            send(bytes)
        case .goAway:
            endHandler(handler)
            close()
        case .ignored:
            break
        }
    }

    private func remoteFinished(_ id: UInt32, _ handler: SessionHandler) {
        guard var state = streams[id], !state.remoteFinished else { return }
        state.remoteFinished = true
        update(id, state)
        handler.finished(id, connection: self)
    }

    private func update(_ id: UInt32, _ state: StreamState) {
        if state.localFinished && state.remoteFinished { streams.removeValue(forKey: id) } else { streams[id] = state }
    }

    // MARK: relays

    private func readRelay(_ relay: Relay, _ handler: SessionHandler) {
        for _ in 0..<4 {
            switch SocketIO.read(relay.fd, limit: 32 << 10) {
            case .bytes(let bytes):
                if let stream = relay.outputStream { send(bytes, on: stream) }
                if output.count >= limits.outputHighWater { return }
            case .wouldBlock:
                return
            case .endOfFile:
                relay.endReading()
                handler.readEnded(relay, error: nil, connection: self)
                return
            case .failed(let error):
                relay.endReading()
                handler.readEnded(relay, error: error, connection: self)
                return
            }
        }
    }

    private func writeRelay(_ relay: Relay, _ handler: SessionHandler) {
        while relay.writing && !relay.pending.isEmpty {
            switch SocketIO.write(relay.fd, relay.pending, isSocket: relay.kind == .socket) {
            case .wrote(let count):
                relay.pending.removeFirst(count)
            case .wouldBlock:
                return
            case .failed(let error):
                relay.endWriting()
                handler.writeFailed(relay, error: error, connection: self)
                return
            }
        }
        relay.endWriteIfDrained()
    }
}
