import CImageLibs
import FascoCore
#if canImport(Glibc)
import Glibc
#endif

// `curl_easy_setopt` is a C variadic function, and Swift does not import those.
// Until CImageLibs grows typed wrappers (static inline functions in shim.h, e.g.
// `fasco_curl_setopt_long(CURL *, CURLoption, long)`), the symbol is looked up at run
// time and called through a fixed, non-variadic prototype. That is sound only where a
// variadic callee reads integer and pointer arguments from the same registers a
// non-variadic call puts them in: the System V x86-64 and AAPCS64 Linux ABIs (on
// x86-64 the callee uses %al only to decide whether to spill vector registers, which
// a non-variadic call leaves unspecified: harmless for integer arguments). Apple's
// arm64 ABI passes variadic arguments on the stack, so other platforms stop here.
#if !(os(Linux) && (arch(x86_64) || arch(arm64)))
#error("CurlBindings calls curl_easy_setopt through a non-variadic prototype; add typed C wrappers for this platform")
#endif

/// The libcurl calls Swift cannot make directly, and libcurl's one-time set-up.
enum Curl {
    private typealias SetLong = @convention(c) (UnsafeMutableRawPointer?, CURLoption, Int) -> CURLcode
    private typealias SetPointer = @convention(c) (UnsafeMutableRawPointer?, CURLoption, UnsafeRawPointer?) -> CURLcode

    private struct Setters: @unchecked Sendable {
        // SAFETY: two immutable C function pointers into libcurl, resolved once.
        let long: SetLong
        let pointer: SetPointer
    }

    /// `curl_global_init` (once, before any other libcurl call; it is not thread-safe
    /// against other libcurl users) and the resolved setopt entry point.
    private static let setup: Result<Setters, FascoError> = {
        let code = curl_global_init(Int(CURL_GLOBAL_DEFAULT))
        guard code == CURLE_OK else {
            return .failure(.internal("libcurl could not initialise: \(String(cString: curl_easy_strerror(code)))"))
        }
        guard let symbol = resolveSetopt() else {
            return .failure(.internal("cannot find curl_easy_setopt in the loaded libcurl"))
        }
        return .success(Setters(long: unsafeBitCast(symbol, to: SetLong.self),
                                pointer: unsafeBitCast(symbol, to: SetPointer.self)))
    }()

    /// Finds `curl_easy_setopt` in the program's global scope, where the libcurl this
    /// module links against is, or else in an already loaded libcurl.
    private static func resolveSetopt() -> UnsafeMutableRawPointer? {
        for name in [nil, "libcurl.so.4", "libcurl-gnutls.so.4"] as [String?] {
            guard let library = dlopen(name, name == nil ? RTLD_NOW : RTLD_NOW | RTLD_NOLOAD) else { continue }
            if let symbol = dlsym(library, "curl_easy_setopt") { return symbol }
        }
        return nil
    }

    /// Initialises libcurl; call before creating any handle.
    static func initialize() throws(FascoError) {
        _ = try setup.get()
    }

    static func setopt(_ handle: UnsafeMutableRawPointer, _ option: CURLoption, _ value: Int) -> CURLcode {
        switch setup {
        case .success(let setters): setters.long(handle, option, value)
        case .failure: CURLE_FAILED_INIT
        }
    }

    static func setopt(_ handle: UnsafeMutableRawPointer, _ option: CURLoption, _ value: UnsafeRawPointer?) -> CURLcode {
        switch setup {
        case .success(let setters): setters.pointer(handle, option, value)
        case .failure: CURLE_FAILED_INIT
        }
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
