import FascoCore
import FoundationEssentials

/// One realm's attested session with a key broker: its TEE key, the broker's session cookie and
/// attestation token, kept until the earlier of the token's `exp` and the session's life
/// (Trustee's sessions last 5 minutes), less a margin.
public struct BrokerSession: Sendable {
    public let endpoint: BrokerEndpoint
    public let key: TEEKeyPair
    /// `kbs-session-id=...`, as sent back in `Cookie`.
    public let cookie: String?
    /// The attestation token (a JWT).
    public let token: String
    public let expires: ContinuousClock.Instant

    /// Trustee's session lifetime.
    public static let sessionLife: Duration = .seconds(300)
    /// A session this close to its end is not used.
    public static let margin: Duration = .seconds(15)

    public init(endpoint: BrokerEndpoint, key: TEEKeyPair, cookie: String?, token: String, now: ContinuousClock.Instant = .now) {
        self.endpoint = endpoint
        self.key = key
        self.cookie = cookie
        self.token = token
        var life = Self.sessionLife
        if let exp = Self.expiry(ofJWT: token) {
            let left = exp - Date().timeIntervalSince1970
            life = min(life, .milliseconds(Int64(max(0, left) * 1000)))
        }
        self.expires = now + life - Self.margin
    }

    public var isValid: Bool { ContinuousClock.now < expires }

    /// The `exp` claim (seconds since the epoch) of a JWT, when it has one.
    static func expiry(ofJWT token: String) -> Double? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        struct Claims: Decodable { var exp: Double? }
        guard parts.count >= 2, let payload = Base64URL.decode(parts[1]),
              let claims = try? JSONDecoder().decode(Claims.self, from: Data(payload)) else { return nil }
        return claims.exp
    }
}
