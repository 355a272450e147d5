import CImageLibs
import FascoCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// libcurl's multi interface, driven by one dedicated thread for the whole process.
///
/// Every transfer runs on this thread, so none blocks one of Swift's cooperative
/// threads, and connections (and TLS sessions) are reused across requests through the
/// multi handle's connection cache. Tasks talk to the thread through a command inbox
/// and `curl_multi_wakeup`; the thread talks back through each transfer's
/// `TransferCore`. The libcurl callbacks only parse headers and queue bytes: callers'
/// code never runs here.
final class CurlEventLoop: @unchecked Sendable {
    // SAFETY: `multi`, `byCore` and `byHandle` are used only on the loop thread once it has
    // started; `inbox` is a Mutex; curl_multi_wakeup is documented as callable from any thread.
    enum Command: Sendable {
        case start(TransferCore)
        case cancel(TransferCore)
        case resume(TransferCore)
    }

    private let multi: UnsafeMutableRawPointer
    private let inbox = Mutex<[Command]>([])
    private var byCore: [ObjectIdentifier: CurlTransfer] = [:]
    private var byHandle: [UnsafeMutableRawPointer: CurlTransfer] = [:]

    /// The process's loop, started on first use.
    static let shared: Result<CurlEventLoop, FascoError> = {
        do throws(FascoError) {
            return .success(try CurlEventLoop())
        } catch {
            return .failure(error)
        }
    }()

    private init() throws(FascoError) {
        try Curl.initialize()
        guard let multi = curl_multi_init() else { throw .internal("libcurl could not create a multi handle") }
        self.multi = multi

        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        defer { pthread_attr_destroy(&attributes) }
        var thread = pthread_t()
        // The thread keeps the loop alive for the life of the process.
        let retained = Unmanaged.passRetained(self)
        let started = pthread_create(&thread, &attributes, { argument in
            guard let argument else { return nil }
            Unmanaged<CurlEventLoop>.fromOpaque(argument).takeUnretainedValue().run()
            return nil
        }, retained.toOpaque())
        guard started == 0 else {
            retained.release()
            curl_multi_cleanup(multi)
            throw .resourceExhausted("cannot start the HTTP thread: errno \(started)")
        }
    }

    /// Queues a command for the loop thread and wakes it.
    func post(_ command: Command) {
        inbox.withLock { $0.append(command) }
        curl_multi_wakeup(multi)
    }

    // MARK: Loop thread

    private func run() {
        while true {
            let commands = inbox.withLock { inbox in
                defer { inbox.removeAll(keepingCapacity: true) }
                return inbox
            }
            for command in commands { handle(command) }
            var running: Int32 = 0
            curl_multi_perform(multi, &running)
            collectFinished()
            // Returns early for socket activity, libcurl's own timers or a wakeup.
            curl_multi_poll(multi, nil, 0, 10_000, nil)
        }
    }

    private func handle(_ command: Command) {
        switch command {
        case .start(let core):
            guard !core.isCancelled else {
                core.finish(.failure(.transferCancelled(core.request.summary)))
                return
            }
            let transfer: CurlTransfer
            do throws(FascoError) {
                transfer = try CurlTransfer(core: core)
            } catch {
                core.finish(.failure(error))
                return
            }
            let code = curl_multi_add_handle(multi, transfer.easy)
            guard code == CURLM_OK else {
                core.finish(.failure(.internal("\(core.request.summary): cannot add the transfer: \(String(cString: curl_multi_strerror(code)))")))
                return
            }
            byCore[ObjectIdentifier(core)] = transfer
            byHandle[transfer.easy] = transfer
        case .cancel(let core):
            guard let transfer = byCore[ObjectIdentifier(core)] else { return }
            remove(transfer)
            core.finish(.failure(.transferCancelled(core.request.summary)))
        case .resume(let core):
            guard let transfer = byCore[ObjectIdentifier(core)] else { return }
            let code = curl_easy_pause(transfer.easy, CURLPAUSE_CONT)
            if code != CURLE_OK {
                remove(transfer)
                core.finish(.failure(transfer.failure(code)))
            }
        }
    }

    private func collectFinished() {
        var remaining: Int32 = 0
        while let message = curl_multi_info_read(multi, &remaining) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
            let code = message.pointee.data.result
            guard let transfer = byHandle[easy] else { continue }
            remove(transfer)
            transfer.complete(code)
        }
    }

    private func remove(_ transfer: CurlTransfer) {
        curl_multi_remove_handle(multi, transfer.easy)
        byCore[ObjectIdentifier(transfer.core)] = nil
        byHandle[transfer.easy] = nil
    }
}

/// One easy handle and what its callbacks need; lives on the loop thread only.
final class CurlTransfer {
    let core: TransferCore
    let easy: UnsafeMutableRawPointer
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer: UnsafeMutablePointer<CChar>
    private var status: Int?
    private var headers = HTTPHeaders()
    private var headPublished = false

    init(core: TransferCore) throws(FascoError) {
        guard let easy = curl_easy_init() else { throw .internal("libcurl could not create a handle") }
        self.core = core
        self.easy = easy
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        try configure()
    }

    deinit {
        curl_easy_cleanup(easy)
        curl_slist_free_all(headerList)
        errorBuffer.deallocate()
    }

    private func configure() throws(FascoError) {
        let request = core.request
        let configuration = core.configuration
        var failed: (CURLoption, CURLcode)?
        func set(_ option: CURLoption, _ value: Int) {
            let code = Curl.setopt(easy, option, value)
            if code != CURLE_OK && failed == nil { failed = (option, code) }
        }
        func set(_ option: CURLoption, _ value: String) {
            let code = Curl.setopt(easy, option, value)
            if code != CURLE_OK && failed == nil { failed = (option, code) }
        }
        func set(_ option: CURLoption, _ value: UnsafeRawPointer?) {
            let code = Curl.setopt(easy, option, value)
            if code != CURLE_OK && failed == nil { failed = (option, code) }
        }

        set(CURLOPT_URL, request.url)
        set(CURLOPT_PROTOCOLS_STR, "http,https")
        set(CURLOPT_NOSIGNAL, 1)
        set(CURLOPT_ERRORBUFFER, UnsafeRawPointer(errorBuffer))
        set(CURLOPT_USERAGENT, configuration.userAgent)
        set(CURLOPT_TCP_KEEPALIVE, 1)
        set(CURLOPT_BUFFERSIZE, 128 << 10)
        set(CURLOPT_CONNECTTIMEOUT_MS, configuration.connectTimeout.wholeMilliseconds)
        if configuration.lowSpeedLimit > 0 {
            set(CURLOPT_LOW_SPEED_LIMIT, configuration.lowSpeedLimit)
            set(CURLOPT_LOW_SPEED_TIME, max(1, Int(configuration.lowSpeedTime.components.seconds)))
        }
        if let timeout = request.timeout { set(CURLOPT_TIMEOUT_MS, max(1, timeout.wholeMilliseconds)) }
        if request.followRedirects {
            set(CURLOPT_FOLLOWLOCATION, 1)
            set(CURLOPT_MAXREDIRS, configuration.maxRedirects)
            set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https")
        }

        if let caFile = request.tls.caFile { set(CURLOPT_CAINFO, caFile) }
        if request.tls.insecureSkipVerify {
            set(CURLOPT_SSL_VERIFYPEER, 0)
            set(CURLOPT_SSL_VERIFYHOST, 0)
        }

        switch (request.method, request.body) {
        case (.get, nil): set(CURLOPT_HTTPGET, 1)
        case (.head, _): set(CURLOPT_NOBODY, 1)
        case (let method, let body):
            // POSTFIELDS sends the body with any method; CUSTOMREQUEST names the method.
            let body = body ?? []
            set(CURLOPT_POST, 1)
            set(CURLOPT_POSTFIELDSIZE_LARGE, body.count)
            body.withUnsafeBytes { bytes in
                // COPYPOSTFIELDS copies; an empty body still needs a valid pointer.
                var empty: UInt8 = 0
                if let base = bytes.baseAddress {
                    set(CURLOPT_COPYPOSTFIELDS, base)
                } else {
                    withUnsafePointer(to: &empty) { set(CURLOPT_COPYPOSTFIELDS, UnsafeRawPointer($0)) }
                }
            }
            if method != .post { set(CURLOPT_CUSTOMREQUEST, method.rawValue) }
        }

        var headerLines = request.headers.map { "\($0.name): \($0.value)" }
        // Without this libcurl waits for "100 Continue" before larger bodies.
        if request.body != nil && !request.headers.contains("Expect") { headerLines.append("Expect:") }
        if request.body != nil && !request.headers.contains("Content-Type") { headerLines.append("Content-Type:") }
        for line in headerLines {
            guard let list = curl_slist_append(headerList, line) else {
                throw .internal("\(request.summary): out of memory building the request headers")
            }
            headerList = list
        }
        if let headerList { set(CURLOPT_HTTPHEADER, UnsafeRawPointer(headerList)) }

        let this = UnsafeRawPointer(Unmanaged.passUnretained(self).toOpaque())
        set(CURLOPT_WRITEFUNCTION, unsafeBitCast(curlWriteCallback, to: UnsafeRawPointer.self))
        set(CURLOPT_WRITEDATA, this)
        set(CURLOPT_HEADERFUNCTION, unsafeBitCast(curlHeaderCallback, to: UnsafeRawPointer.self))
        set(CURLOPT_HEADERDATA, this)
        set(CURLOPT_XFERINFOFUNCTION, unsafeBitCast(curlProgressCallback, to: UnsafeRawPointer.self))
        set(CURLOPT_XFERINFODATA, this)
        set(CURLOPT_NOPROGRESS, 0)

        if let (option, code) = failed {
            throw .internal("\(request.summary): libcurl rejected option \(option.rawValue): \(Curl.describe(code))")
        }
    }

    // MARK: Callbacks (loop thread)

    fileprivate func receiveHeader(_ line: UnsafeRawBufferPointer) {
        var end = line.count
        while end > 0 && (line[end - 1] == 0x0a || line[end - 1] == 0x0d) { end -= 1 }
        let text = String(decoding: line[..<end], as: UTF8.self)
        guard !headPublished else { return }  // trailers
        if text.hasPrefix("HTTP/") {
            // A new response: an interim 1xx, a redirect being followed, or the final one.
            let parts = text.split(separator: " ", maxSplits: 2)
            status = parts.count >= 2 ? Int(parts[1]) : nil
            headers = HTTPHeaders()
        } else if let first = text.first, first == " " || first == "\t" {
            // An obsolete folded continuation line.
            headers.extendLastValue(with: text.httpTrimmed)
        } else if let colon = text.firstIndex(of: ":") {
            headers.add(String(text[..<colon]).httpTrimmed, String(text[text.index(after: colon)...]).httpTrimmed)
        }
    }

    fileprivate func receiveBody(_ bytes: UnsafeRawBufferPointer) -> Int {
        publishHeadIfNeeded()
        switch core.deliver(bytes) {
        case .accepted: return bytes.count
        case .paused: return Int(CURL_WRITEFUNC_PAUSE)
        case .rejected: return 0
        }
    }

    private func publishHeadIfNeeded() {
        guard !headPublished, let status else { return }
        headPublished = true
        core.publish(head: HTTPResponseHead(status: status, headers: headers))
    }

    /// The transfer is over and removed from the multi handle.
    func complete(_ code: CURLcode) {
        if code == CURLE_OK {
            publishHeadIfNeeded()
            core.finish(.success(()))
        } else {
            core.finish(.failure(core.isCancelled ? .transferCancelled(core.request.summary) : failure(code)))
        }
    }

    func failure(_ code: CURLcode) -> FascoError {
        let kind = HTTPTransportError.kind(of: code)
        let detail = String(cString: errorBuffer)
        let reason = detail.isEmpty ? Curl.describe(code) : detail
        return FascoError(.unavailable, "\(core.request.summary): \(HTTPTransportError.summary(of: kind)): \(reason)",
                          cause: HTTPTransportError(kind: kind, curlCode: Int(code.rawValue)))
    }
}

private let curlWriteCallback: curl_write_callback = { data, size, count, userdata in
    guard let userdata else { return 0 }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata).takeUnretainedValue()
    return transfer.receiveBody(UnsafeRawBufferPointer(start: data, count: size * count))
}

private let curlHeaderCallback: curl_write_callback = { data, size, count, userdata in
    guard let userdata else { return 0 }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata).takeUnretainedValue()
    transfer.receiveHeader(UnsafeRawBufferPointer(start: data, count: size * count))
    return size * count
}

private let curlProgressCallback: curl_xferinfo_callback = { userdata, _, _, _, _ in
    guard let userdata else { return 0 }
    // Non-zero aborts the transfer (CURLE_ABORTED_BY_CALLBACK): how a cancel reaches a
    // transfer that is busy inside libcurl.
    return Unmanaged<CurlTransfer>.fromOpaque(userdata).takeUnretainedValue().core.isCancelled ? 1 : 0
}

extension Duration {
    var wholeMilliseconds: Int {
        let (seconds, attoseconds) = components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}
