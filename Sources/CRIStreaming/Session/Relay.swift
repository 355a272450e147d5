#if canImport(Glibc)
import Glibc
#endif

/// A local descriptor relayed to SPDY streams: what is read from it goes out as DATA on
/// `outputStream`; DATA for it is queued in `pending` and written as the descriptor takes it.
final class Relay {
    enum Kind {
        /// A pipe end; closing the write side means closing the descriptor.
        case pipe
        /// A connected socket; the write side is shut down on its own (half-close).
        case socket
        /// A terminal's controlling side, read and written.
        case terminal
    }

    let fd: Int32
    let kind: Kind
    /// The handler's name for it (a stream role or a port-forward request ID).
    let tag: String
    /// Where bytes read from the descriptor go; nil drops them.
    var outputStream: UInt32?
    /// Still reading (no end of file or error yet).
    var reading: Bool
    /// Still accepting bytes to write.
    var writing: Bool
    var pending = ByteQueue()
    /// Once `pending` is written, the write side ends (pipe closed, socket shut down).
    var closeWriteWhenDrained = false
    private(set) var isClosed = false

    init(fd: Int32, kind: Kind, tag: String, outputStream: UInt32?, readable: Bool, writable: Bool) {
        self.fd = fd
        self.kind = kind
        self.tag = tag
        self.outputStream = outputStream
        self.reading = readable
        self.writing = writable
        SocketIO.setNonBlocking(fd)
    }

    /// Queues bytes to write (dropped once the write side has ended).
    func enqueue(_ bytes: [UInt8]) {
        guard writing, !closeWriteWhenDrained else { return }
        pending.append(bytes)
    }

    /// Ends the write side once the queue is written.
    func finishWriting() {
        guard writing else { return }
        closeWriteWhenDrained = true
        endWriteIfDrained()
    }

    func endWriteIfDrained() {
        guard writing, closeWriteWhenDrained, pending.isEmpty else { return }
        endWriting()
    }

    /// Stops writing at once, dropping what is queued.
    func endWriting() {
        guard writing else { return }
        writing = false
        pending.removeAll()
        if kind == .socket { shutdown(fd, Int32(SHUT_WR)) }
        closeIfDone()
    }

    func endReading() {
        guard reading else { return }
        reading = false
        closeIfDone()
    }

    /// Closes the descriptor now, whatever is left.
    func close() {
        guard !isClosed else { return }
        isClosed = true
        reading = false
        writing = false
        pending.removeAll()
        Glibc.close(fd)
    }

    private func closeIfDone() {
        if !reading && !writing { close() }
    }
}
