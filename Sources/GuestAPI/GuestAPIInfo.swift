import FoundationEssentials

/// `GET /info`'s answer, and the JSON of failures: honest about the backend.
enum GuestAPIInfo {
    private struct Info: Encodable {
        var version: String
        var tee: String
        var additionalTees: [String]
        var feature: String

        enum CodingKeys: String, CodingKey {
            case version, tee, feature
            case additionalTees = "additional_tees"
        }
    }

    static func json(version: String, confidential: Bool) -> String {
        let backend = confidential
            ? "backend: Arm CCA realms"
            : "backend: software realms (Linux isolation and a software RMM; not hardware-backed, not confidential)"
        let info = Info(
            version: "fasco \(version) guest API (api-server-rest compatible)", tee: "cca", additionalTees: [],
            feature: "aa: evidence (CCA token of the calling container's realm), aael (REM 2); "
                + "aa token and cdh resources: not enabled; \(backend)")
        return encode(info)
    }

    static func failureJSON(_ message: String) -> String {
        encode(["success": "false", "message": message])
    }

    private static func encode(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
