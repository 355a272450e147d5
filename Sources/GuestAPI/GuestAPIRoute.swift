import FascoCore
import FoundationEssentials

/// What a guest API request asks for, decided from the request alone (CoCo's api-server-rest
/// paths, `docs/architecture.md` "Guest API"): the server then answers it for the caller.
enum GuestAPIRoute: Sendable, Equatable {
    /// `GET /info`.
    case info
    /// `GET /aa/evidence?runtime_data=X[&encoding=base64]`: a token whose challenge is these bytes.
    case evidence(runtimeData: [UInt8])
    /// `POST /aa/aael`: extend the event log with this event text (`<domain> <operation> <content>`).
    case event(text: String)
    /// `GET /cdh/resource/<repo>/<type>/<tag>`: the resource `kbs:///<repo>/<type>/<tag>` released to the caller's realm.
    case resource(path: String)
    /// `GET /aa/token?token_type=kbs`: the caller realm's key-broker token and TEE key.
    case kbsToken
    /// Answered as it is (errors, features not offered).
    case answer(GuestHTTPResponse)

    /// The most runtime data a realm challenge holds.
    static let maxRuntimeData = 64

    /// The response of an `.answer` route.
    var fixedResponse: GuestHTTPResponse {
        if case .answer(let response) = self { return response }
        return .text(500, "INTERNAL SERVER ERROR")
    }

    static func badRequest(_ reason: String) -> GuestAPIRoute {
        .answer(.text(400, "BAD REQUEST: \(reason)"))
    }

    static let methodNotAllowed = GuestAPIRoute.answer(.text(405, "METHOD NOT ALLOWED"))
    /// CoCo's answers when the attestation or resource feature is off.
    static let attestationOff = GuestAPIRoute.answer(.text(404, "Attestation Feature Not Enabled"))
    static let resourceOff = GuestAPIRoute.answer(.text(404, "Resource Feature Not Enabled"))

    static func route(_ request: GuestHTTPRequest) -> GuestAPIRoute {
        let path = request.path
        switch path {
        case "/info":
            return request.method == "GET" ? .info : methodNotAllowed
        case "/aa/evidence":
            guard request.method == "GET" else { return methodNotAllowed }
            return evidence(query: request.query)
        case "/aa/aael":
            guard request.method == "POST" else { return methodNotAllowed }
            return event(body: request.body)
        default:
            break
        }
        // Key release (Trustee's KBS): the server answers CoCo's "Feature Not Enabled" 404s
        // (`attestationOff`, `resourceOff`) when the pod has no key broker.
        if path == "/aa/token" || path.hasPrefix("/aa/token/") {
            guard request.method == "GET" else { return methodNotAllowed }
            guard path == "/aa/token" else { return attestationOff }
            guard let parameters = GuestHTTPRequest.parameters(request.query) else { return badRequest("malformed percent-encoding in the query") }
            switch parameters.first(where: { $0.name == "token_type" })?.value {
            case "kbs": return .kbsToken
            case nil: return badRequest("token_type is required")
            case let other?: return badRequest("token_type \(String(other.prefix(32)).debugDescription) is not supported (only kbs)")
            }
        }
        if path.hasPrefix("/cdh/") {
            guard request.method == "GET" else { return methodNotAllowed }
            let prefix = "/cdh/resource/"
            guard path.hasPrefix(prefix) else { return resourceOff }
            return .resource(path: String(path.dropFirst(prefix.count)))
        }
        return .answer(.text(404, "URL NOT FOUND"))
    }

    /// `runtime_data` (required) as UTF-8 bytes, or with `encoding=base64` as URL-safe base64
    /// without padding; at most 64 bytes.
    static func evidence(query: String) -> GuestAPIRoute {
        guard let parameters = GuestHTTPRequest.parameters(query) else { return badRequest("malformed percent-encoding in the query") }
        guard let text = parameters.first(where: { $0.name == "runtime_data" })?.value else {
            return badRequest("runtime_data is required")
        }
        let data: [UInt8]
        switch parameters.first(where: { $0.name == "encoding" })?.value {
        case nil:
            data = Array(text.utf8)
        case "base64":
            guard let decoded = Base64URL.decodeCanonical(text) else {
                return badRequest("runtime_data is not URL-safe base64 without padding")
            }
            data = decoded
        case let other?:
            return badRequest("encoding \(String(other.prefix(32)).debugDescription) is not supported (only base64)")
        }
        guard data.count <= maxRuntimeData else {
            return badRequest("runtime_data has \(data.count) bytes; a realm challenge holds at most \(maxRuntimeData)")
        }
        return .evidence(runtimeData: data)
    }

    /// An AAEL event `{"domain", "operation", "content"}`: domain and operation non-empty and
    /// without whitespace, content without LF (Trustee's event log text form).
    static func event(body: [UInt8]) -> GuestAPIRoute {
        struct Event: Decodable {
            var domain: String
            var operation: String
            var content: String
        }
        let event: Event
        do { event = try JSONDecoder().decode(Event.self, from: Data(body)) } catch {
            return badRequest("the body must be JSON {\"domain\", \"operation\", \"content\"} (strings): \(describe(error))")
        }
        for (name, value) in [("domain", event.domain), ("operation", event.operation)] {
            guard !value.isEmpty else { return badRequest("\(name) is empty") }
            guard !value.unicodeScalars.contains(where: { $0.properties.isWhitespace }) else {
                return badRequest("\(name) contains whitespace")
            }
        }
        guard !event.content.unicodeScalars.contains("\n") else { return badRequest("content contains a line feed") }
        return .event(text: "\(event.domain) \(event.operation) \(event.content)")
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "\(key.stringValue) is missing"
        case DecodingError.typeMismatch(_, let context): "\(context.codingPath.map(\.stringValue).joined(separator: ".")) is not a string"
        case DecodingError.valueNotFound(_, let context): "\(context.codingPath.map(\.stringValue).joined(separator: ".")) is null"
        default: "not JSON"
        }
    }
}
