import FascoCore
#if canImport(Glibc)
import Glibc
#endif

/// Non-blocking descriptor I/O for the session threads (and the guest API's).
public enum SocketIO {
    public enum ReadResult: Equatable, Sendable {
        case bytes([UInt8])
        case wouldBlock
        case endOfFile
        case failed(Int32)
    }

    enum WriteResult: Equatable {
        case wrote(Int)
        case wouldBlock
        case failed(Int32)
    }

    public static func setNonBlocking(_ fd: Int32) {
        let flags = fcntl(fd, F_GETFL)
        if flags >= 0 { _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
    }

    public static func setCloseOnExec(_ fd: Int32) {
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
    }

    /// One read(2) of at most `limit` bytes.
    public static func read(_ fd: Int32, limit: Int) -> ReadResult {
        var buffer = [UInt8](repeating: 0, count: max(limit, 1))
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count > 0 { return .bytes(Array(buffer[..<count])) }
            if count == 0 { return .endOfFile }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            // A terminal whose other side is closed reports EIO: its end of file.
            case EIO: return .endOfFile
            default: return .failed(errno)
            }
        }
    }

    /// One write(2) (send(2) with MSG_NOSIGNAL on sockets) of the queue's front.
    static func write(_ fd: Int32, _ queue: ByteQueue, isSocket: Bool) -> WriteResult {
        while true {
            let count = queue.withReadableBytes { bytes in
                isSocket ? send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL)) : Glibc.write(fd, bytes.baseAddress, bytes.count)
            }
            if count >= 0 { return .wrote(count) }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            default: return .failed(errno)
            }
        }
    }

    /// Writes all of `bytes` to a non-blocking socket before `deadline`; false when it could not.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], deadline: ContinuousClock.Instant) -> Bool {
        var queue = ByteQueue(bytes)
        while !queue.isEmpty {
            switch write(fd, queue, isSocket: true) {
            case .wrote(let count): queue.removeFirst(count)
            case .wouldBlock:
                guard wait(fd, events: Int16(POLLOUT), until: deadline) else { return false }
            case .failed: return false
            }
        }
        return true
    }

    /// Blocks until `fd` is ready for `events` or `deadline` passes.
    public static func wait(_ fd: Int32, events: Int16, until deadline: ContinuousClock.Instant) -> Bool {
        while true {
            let remaining = milliseconds(until: deadline)
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let result = poll(&entry, 1, remaining)
            if result > 0 { return true }
            if result == 0 { return false }
            if errno != EINTR { return false }
        }
    }

    /// Whole milliseconds until `deadline` (rounded up, 0 ... Int32.max).
    public static func milliseconds(until deadline: ContinuousClock.Instant) -> Int32 {
        let left = ContinuousClock.now.duration(to: deadline)
        guard left > .zero else { return 0 }
        let (seconds, attoseconds) = left.components
        return Int32(clamping: seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
    }

    /// A pipe, both ends non-blocking and close-on-exec.
    public static func makePipe() throws(FascoError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw .resourceExhausted("cannot create a pipe: \(FileSystem.errnoText)") }
        for fd in fds {
            setNonBlocking(fd)
            setCloseOnExec(fd)
        }
        return (fds[0], fds[1])
    }
}
