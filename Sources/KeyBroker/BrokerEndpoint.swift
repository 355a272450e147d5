/// A key broker: its base URL (`https://kbs.example:8080`, no `/kbs/v0`) and the CA bundle to
/// trust for it (besides the system's).
public struct BrokerEndpoint: Sendable, Hashable, CustomStringConvertible {
    public var url: String
    public var caFile: String?

    public init(url: String, caFile: String? = nil) {
        var url = url
        while url.hasSuffix("/") { url.removeLast() }
        self.url = url
        self.caFile = caFile
    }

    public var description: String { url }
}
