import CGRPCCore
import CGRPCShim

/// One grpc_call_start_batch and the C memory it needs until it completes.
///
/// SAFETY: the C batch is touched by one thread at a time: the starter fills it
/// before grpc_call_start_batch, and the completion-queue thread reads it after
/// the completion, which the queue orders after the start.
final class Batch: @unchecked Sendable {
    let pointer: OpaquePointer

    init() {
        // calloc fails only when the process is out of memory.
        guard let pointer = fasco_batch_create() else { fatalError("out of memory creating a gRPC batch") }
        self.pointer = pointer
    }

    deinit { fasco_batch_destroy(pointer) }

    func sendInitialMetadata() { fasco_batch_send_initial_metadata(pointer) }

    func sendMessage(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { fasco_batch_send_message(pointer, $0.baseAddress, $0.count) }
    }

    func sendCloseFromClient() { fasco_batch_send_close_from_client(pointer) }

    func sendStatus(_ status: GRPCStatus) {
        // Status details travel as an HTTP/2 trailer; keep them printable and bounded.
        let details = String(status.message.unicodeScalars.prefix(4096).map { $0.value < 0x20 ? " " : Character($0) })
        fasco_batch_send_status(pointer, status.code.rawValue, details)
    }

    func receiveInitialMetadata() { fasco_batch_recv_initial_metadata(pointer) }
    func receiveMessage() { fasco_batch_recv_message(pointer) }
    func receiveStatusOnClient() { fasco_batch_recv_status_on_client(pointer) }
    func receiveCloseOnServer() { fasco_batch_recv_close_on_server(pointer) }

    /// Starts the batch on `call`; `completion` runs on the queue thread with the op's success.
    /// Returns false (and never runs `completion`) when the core refuses the batch.
    func start(on call: OpaquePointer, _ completion: @escaping @Sendable (Bool) -> Void) -> Bool {
        let tag = CompletionQueue.retainTag { [self] success in
            withExtendedLifetime(self) { completion(success) }
        }
        guard fasco_batch_start(call, pointer, tag) == GRPC_CALL_OK else {
            CompletionQueue.releaseTag(tag)
            return false
        }
        return true
    }

    /// The received message, or nil when the stream ended or the call failed.
    var message: [UInt8]? {
        guard fasco_batch_has_message(pointer) != 0 else { return nil }
        let length = fasco_batch_message_length(pointer)
        return [UInt8](unsafeUninitializedCapacity: length) { buffer, initialized in
            initialized = length == 0 ? 0 : fasco_batch_message_copy(pointer, buffer.baseAddress, length)
        }
    }

    var cancelled: Bool { fasco_batch_cancelled(pointer) != 0 }

    var status: GRPCStatus {
        let details = fasco_batch_status_details(pointer)
        defer { free(details) }
        return GRPCStatus(wireCode: fasco_batch_status_code(pointer), message: details.map { String(cString: $0) } ?? "")
    }
}
