import FascoCore

/// A small HTTP/1.1 and HTTP/2 client over libcurl, for registries.
///
/// Transfers run on one dedicated thread (`CurlEventLoop`, libcurl's multi interface),
/// never on Swift's cooperative threads; tasks await the response head and then pull the
/// body in chunks. Cancelling the awaiting task aborts the transfer.
public final class HTTPClient: Sendable {
    public struct Configuration: Sendable {
        public var connectTimeout: Duration = .seconds(30)
        /// A transfer slower than `lowSpeedLimit` bytes per second for `lowSpeedTime` is
        /// abandoned as stalled (0 disables). Time spent paused for a slow reader does not count.
        public var lowSpeedLimit: Int = 1024
        public var lowSpeedTime: Duration = .seconds(60)
        public var maxRedirects: Int = 10
        public var userAgent: String = "fasco"
        /// Body bytes queued for a reader before the transfer pauses.
        public var bufferHighWater: Int = 1 << 20

        public init() {}
    }

    public let configuration: Configuration

    public static let shared = HTTPClient()

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Sends `request`; returns once the final response's status and headers are known.
    /// Read the body with `HTTPTransfer.next()`; dropping the transfer ends it.
    public func start(_ request: HTTPRequest) async throws(FascoError) -> HTTPTransfer {
        try Self.validate(request)
        let loop = try CurlEventLoop.shared.get()
        if Task.isCancelled { throw .transferCancelled(request.summary) }
        let core = TransferCore(request: request, configuration: configuration, loop: loop)
        loop.post(.start(core))
        do throws(FascoError) {
            let head = try await core.responseHead()
            return HTTPTransfer(core: core, response: head)
        } catch {
            core.cancel()
            throw error
        }
    }

    /// Sends `request` and collects the whole body; a body larger than `maxBodySize`
    /// ends the transfer with RESOURCE_EXHAUSTED.
    public func send(_ request: HTTPRequest, maxBodySize: Int = 4 << 20) async throws(FascoError) -> HTTPResponse {
        let transfer = try await start(request)
        let body = try await transfer.collect(maxBytes: maxBodySize)
        return HTTPResponse(status: transfer.response.status, headers: transfer.response.headers, body: body)
    }

    static func validate(_ request: HTTPRequest) throws(FascoError) {
        let lowered = request.url.lowercased()
        guard lowered.hasPrefix("http://") || lowered.hasPrefix("https://") else {
            throw .invalidArgument("\(request.summary): only http:// and https:// URLs are supported")
        }
        guard HTTPHeaders.isSafe(request.url), !request.url.contains(" ") else {
            throw .invalidArgument("\(request.summary): the URL contains spaces or control characters")
        }
        for (name, value) in request.headers {
            guard !name.isEmpty, HTTPHeaders.isSafe(name), !name.contains(":"), HTTPHeaders.isSafe(value) else {
                throw .invalidArgument("\(request.summary): header \(name.prefix(100)) has a line break, NUL or colon where it must not")
            }
        }
    }
}

/// A response whose head has arrived; the body streams through `next()`.
public final class HTTPTransfer: Sendable {
    public let response: HTTPResponseHead
    private let core: TransferCore

    init(core: TransferCore, response: HTTPResponseHead) {
        self.core = core
        self.response = response
    }

    deinit { core.cancel() }

    public var status: Int { response.status }
    public var headers: HTTPHeaders { response.headers }

    /// The next body bytes, or nil once the whole body has arrived. A transfer that
    /// fails midway throws here.
    public func next() async throws(FascoError) -> [UInt8]? {
        try await core.nextChunk()
    }

    /// The rest of the body; more than `maxBytes` ends the transfer with RESOURCE_EXHAUSTED.
    public func collect(maxBytes: Int) async throws(FascoError) -> [UInt8] {
        if let length = response.contentLength, length > Int64(maxBytes) {
            cancel()
            throw FascoError(.resourceExhausted, "\(core.request.summary): the response has \(length) bytes, more than the \(maxBytes) allowed")
        }
        var body: [UInt8] = []
        while let chunk = try await next() {
            guard body.count + chunk.count <= maxBytes else {
                cancel()
                throw FascoError(.resourceExhausted, "\(core.request.summary): the response is larger than the \(maxBytes) bytes allowed")
            }
            body.append(contentsOf: chunk)
        }
        return body
    }

    /// Ends the transfer now; `next()` then throws a cancellation error.
    public func cancel() { core.cancel() }
}
