import CImageLibs
import FascoCore
#if canImport(Glibc)
import Glibc
#endif

/// The libcurl calls Swift cannot make directly, and libcurl's one-time set-up.
enum Curl {
    /// `curl_global_init`, once, before any other libcurl call (it is not thread-safe
    /// against other libcurl users).
    private static let setup: Result<Void, FascoError> = {
        let code = curl_global_init(Int(CURL_GLOBAL_DEFAULT))
        guard code == CURLE_OK else {
            return .failure(.internal("libcurl could not initialise: \(String(cString: curl_easy_strerror(code)))"))
        }
        return .success(())
    }()

    /// Initialises libcurl; call before creating any handle.
    static func initialize() throws(FascoError) {
        _ = try setup.get()
    }

    // curl_easy_setopt is variadic: CImageLibs gives it typed C wrappers.
    static func setopt(_ handle: UnsafeMutableRawPointer, _ option: CURLoption, _ value: Int) -> CURLcode {
        fasco_curl_setopt_long(handle, option, value)
    }

    static func setopt(_ handle: UnsafeMutableRawPointer, _ option: CURLoption, _ value: UnsafeRawPointer?) -> CURLcode {
        fasco_curl_setopt_pointer(handle, option, value)
    }

    /// String options: libcurl copies the string.
    static func setopt(_ handle: UnsafeMutableRawPointer, _ option: CURLoption, _ value: String) -> CURLcode {
        value.withCString { setopt(handle, option, UnsafeRawPointer($0)) }
    }

    static func describe(_ code: CURLcode) -> String {
        String(cString: curl_easy_strerror(code))
    }
}

/// Why a transfer failed below HTTP: a connection, TLS or protocol problem, or a cancel.
/// Carried as the `cause` of the `FascoError` the HTTP client throws.
public struct HTTPTransportError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// DNS, connect, reset, or a connection that ended early: worth retrying.
        case connection
        case timeout
        /// Certificate verification or TLS configuration: retrying will not help.
        case tls
        /// Redirect loops, malformed URLs or responses.
        case protocolViolation
        case cancelled
        case other
    }

    public let kind: Kind
    /// The libcurl error code (CURLcode), 0 when the failure did not come from libcurl.
    public let curlCode: Int

    public var isRetryable: Bool { kind == .connection || kind == .timeout }

    public var description: String { curlCode == 0 ? "\(kind)" : "\(kind), curl error \(curlCode)" }

    static func kind(of code: CURLcode) -> Kind {
        switch code {
        case CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT,
             CURLE_PARTIAL_FILE, CURLE_GOT_NOTHING, CURLE_SEND_ERROR, CURLE_RECV_ERROR,
             CURLE_HTTP2, CURLE_HTTP2_STREAM, CURLE_SSL_CONNECT_ERROR, CURLE_HTTP3, CURLE_QUIC_CONNECT_ERROR:
            .connection
        case CURLE_OPERATION_TIMEDOUT:
            .timeout
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER, CURLE_SSL_CACERT_BADFILE,
             CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS,
             CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_CRL_BADFILE:
            .tls
        case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT, CURLE_TOO_MANY_REDIRECTS, CURLE_WEIRD_SERVER_REPLY,
             CURLE_BAD_CONTENT_ENCODING, CURLE_RANGE_ERROR:
            .protocolViolation
        case CURLE_ABORTED_BY_CALLBACK:
            .cancelled
        default:
            .other
        }
    }

    /// What a kind of failure is called in messages.
    static func summary(of kind: Kind) -> String {
        switch kind {
        case .connection: "connection failed"
        case .timeout: "timed out"
        case .tls: "TLS failure"
        case .protocolViolation: "protocol error"
        case .cancelled: "cancelled"
        case .other: "transfer failed"
        }
    }
}

extension FascoError {
    /// The error a cancelled transfer or wait ends with (FascoError has no CANCELLED code;
    /// the cause says it was a cancel).
    static func transferCancelled(_ what: String) -> FascoError {
        FascoError(.unavailable, "\(what) was cancelled", cause: CancellationError())
    }

    /// Whether this error reports a cancelled task rather than a failure.
    public var isCancellation: Bool {
        if cause is CancellationError { return true }
        return (cause as? HTTPTransportError)?.kind == .cancelled
    }

    /// The transport failure under this error, when it came from the network.
    public var transportError: HTTPTransportError? { cause as? HTTPTransportError }
}
