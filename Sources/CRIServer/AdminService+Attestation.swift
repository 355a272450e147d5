import FascoCore
import FoundationEssentials
import GRPCTransport
import RealmAttestation
import RealmCore

/// The admin API's attestation calls (`fasco attest`), JSON like the rest of it:
/// - `/fasco.v1.Admin/Measurements` `{"realm": ID}` -> `{"realm_id", "measurement": {hash_algorithm, rim, rems, personalization_value, log}}`
/// - `/fasco.v1.Admin/Attest` `{"realm": ID, "challenge": HEX, "format": "cmw"|"legacy"}` -> `{"realm_id", "token": BASE64}`
/// - `/fasco.v1.Admin/PlatformKey` `{}` -> `{"jwk", "trust_anchor"}`
extension AdminService {
    public static let measurementsPath = "/fasco.v1.Admin/Measurements"
    public static let attestPath = "/fasco.v1.Admin/Attest"
    public static let platformKeyPath = "/fasco.v1.Admin/PlatformKey"

    public struct RealmRequest: Codable, Sendable {
        public var realm: String
        public var challenge: String?
        public var format: String?

        public init(realm: String, challenge: String? = nil, format: String? = nil) {
            self.realm = realm
            self.challenge = challenge
            self.format = format
        }
    }

    public struct MeasurementsResponse: Codable, Sendable {
        public var realmID: String
        public var measurement: RealmMeasurement

        enum CodingKeys: String, CodingKey {
            case realmID = "realm_id"
            case measurement
        }
    }

    public struct AttestResponse: Codable, Sendable {
        public var realmID: String
        /// The CBOR token, base64.
        public var token: Data

        enum CodingKeys: String, CodingKey {
            case realmID = "realm_id"
            case token
        }
    }

    public struct PlatformKeyResponse: Codable, Sendable {
        public var jwk: [String: String]
        public var trustAnchor: PlatformIdentity.TrustAnchor

        enum CodingKeys: String, CodingKey {
            case jwk
            case trustAnchor = "trust_anchor"
        }
    }

    func attestationRoutes(interceptor: RPCInterceptor) -> [ServerMethod] {
        [
            json(Self.measurementsPath, rpc: "Measurements", interceptor: interceptor) { (request: RealmRequest) throws(FascoError) in
                let found = try await requireRealms().attestation(of: request.realm)
                return MeasurementsResponse(realmID: found.id.value, measurement: found.record.measurement)
            },
            json(Self.attestPath, rpc: "Attest", interceptor: interceptor) { (request: RealmRequest) throws(FascoError) in
                let realms = try requireRealms()
                guard let challenge = Hex.decode(request.challenge ?? "") else {
                    throw .invalidArgument("challenge must be hex (at most 64 bytes)")
                }
                let name = request.format ?? CCAToken.Format.cmw.rawValue
                guard let format = CCAToken.Format(rawValue: name) else {
                    throw .invalidArgument("format \(name.debugDescription) is not cmw or legacy")
                }
                let found = try await realms.attestation(of: request.realm)
                let token = try await realms.attest(found.id.value, challenge: challenge, format: format)
                return AttestResponse(realmID: found.id.value, token: Data(token))
            },
            json(Self.platformKeyPath, rpc: "PlatformKey", interceptor: interceptor) { (_: [String: String]) throws(FascoError) in
                guard let monitor = try requireRealms().monitor else { throw .failedPrecondition("this node does not attest realms") }
                let anchor = try monitor.trustAnchor()
                return PlatformKeyResponse(jwk: anchor.pkey, trustAnchor: anchor)
            },
        ]
    }

    private func requireRealms() throws(FascoError) -> RealmManager {
        guard let realms else { throw .unavailable("this Fasco server runs without a realm backend") }
        return realms
    }

    /// A unary admin call whose request and response are JSON.
    private func json<Request: Decodable & Sendable, Response: Encodable & Sendable>(
        _ path: String, rpc: String, interceptor: RPCInterceptor,
        _ body: @escaping @Sendable (Request) async throws(FascoError) -> Response
    ) -> ServerMethod {
        .unary(path) { bytes, context in
            try await interceptor.intercept(rpc: rpc, context: context) {
                let request: Request
                do { request = try JSONDecoder().decode(Request.self, from: Data(bytes)) } catch {
                    throw FascoError.invalidArgument("\(rpc) wants a JSON request: \(error)")
                }
                let response = try await body(request)
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                do { return Array(try encoder.encode(response)) } catch {
                    throw FascoError.internal("cannot encode the \(rpc) response", cause: error)
                }
            }
        }
    }
}
