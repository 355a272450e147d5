import FascoCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What asynchronous work reports back to a session thread.
enum SessionMail: Sendable {
    /// The exec (or attach) process started, or could not.
    case started(Result<StreamingProcess, FascoError>)
    case exited(StreamingExit)
    /// A port-forward connection for the request ID, or why there is none.
    case connected(requestID: String, Result<Int32, FascoError>)

    /// Releases what the message carries when nobody is left to take it.
    func discard() {
        switch self {
        case .started(.success(let process)):
            process.kill()
            for fd in [process.stdin, process.stdout, process.stderr, process.terminal] { if let fd { close(fd) } }
        case .connected(_, .success(let fd)):
            close(fd)
        case .started(.failure), .exited, .connected(_, .failure):
            break
        }
    }
}

/// Messages for one session thread, which polls `fd` to learn that some arrived. Once closed,
/// a message posted is discarded (its descriptors closed, its process killed).
final class Mailbox: Sendable {
    private struct State {
        var messages: [SessionMail] = []
        var closed = false
        var readFD: Int32
        var writeFD: Int32
    }

    private let state: Mutex<State>
    /// Readable while messages wait.
    let fd: Int32

    init() throws(FascoError) {
        let pipe = try SocketIO.makePipe()
        state = Mutex(State(readFD: pipe.read, writeFD: pipe.write))
        fd = pipe.read
    }

    func post(_ message: SessionMail) {
        let accepted = state.withLock { state -> Bool in
            guard !state.closed else { return false }
            state.messages.append(message)
            var byte: UInt8 = 1
            // A full pipe already wakes the reader; the byte is only a doorbell.
            _ = Glibc.write(state.writeFD, &byte, 1)
            return true
        }
        if !accepted { message.discard() }
    }

    /// Every message waiting, oldest first.
    func drain() -> [SessionMail] {
        state.withLock { state -> [SessionMail] in
            var sink = [UInt8](repeating: 0, count: 256)
            while sink.withUnsafeMutableBytes({ Glibc.read(state.readFD, $0.baseAddress, $0.count) }) > 0 {}
            defer { state.messages.removeAll() }
            return state.messages
        }
    }

    /// Refuses further messages and discards those waiting.
    func close() {
        let left = state.withLock { state -> [SessionMail] in
            guard !state.closed else { return [] }
            state.closed = true
            Glibc.close(state.readFD)
            Glibc.close(state.writeFD)
            defer { state.messages.removeAll() }
            return state.messages
        }
        for message in left { message.discard() }
    }
}
