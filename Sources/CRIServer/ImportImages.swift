import FascoCore
import FoundationEssentials
import GRPCTransport
import ImageStore
import RealmCore

/// Fasco's own admin API beside CRI, on the same socket: `/fasco.v1.Admin/ImportImages`
/// imports an OCI layout or an OCI/Docker archive from a path on the node (`fasco image import`).
/// Messages are JSON: `{"path": "...", "name": "..."}` -> `{"images": [{"id": ..., "repoTags": [...]}]}`.
public struct AdminService: Sendable {
    public static let importPath = "/fasco.v1.Admin/ImportImages"

    public struct ImportRequest: Codable, Sendable {
        public var path: String
        public var name: String?

        public init(path: String, name: String? = nil) {
            self.path = path
            self.name = name
        }
    }

    public struct ImportResponse: Codable, Sendable {
        public struct Imported: Codable, Sendable {
            public var id: String
            public var repoTags: [String]
            public var repoDigests: [String]
        }

        public var images: [Imported]
    }

    let images: ImageStore
    let realms: RealmManager?

    public init(images: ImageStore, realms: RealmManager? = nil) {
        self.images = images
        self.realms = realms
    }

    func routes(interceptor: RPCInterceptor) -> [ServerMethod] {
        attestationRoutes(interceptor: interceptor) + [.unary(Self.importPath) { bytes, context in
            try await interceptor.intercept(rpc: "ImportImages", context: context) {
                let request: ImportRequest
                do {
                    request = try JSONDecoder().decode(ImportRequest.self, from: Data(bytes))
                } catch {
                    throw FascoError.invalidArgument("ImportImages wants JSON {\"path\": ..., \"name\": ...}: \(error)")
                }
                guard request.path.hasPrefix("/") else { throw FascoError.invalidArgument("path must be absolute: \(request.path)") }
                let records = try await images.importImages(from: request.path, name: request.name)
                let response = ImportResponse(images: records.map {
                    .init(id: $0.id.description, repoTags: $0.repoTags, repoDigests: $0.repoDigests)
                })
                return Array(try JSONEncoder().encode(response))
            }
        }]
    }
}
