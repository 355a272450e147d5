import CRIAPI
import CRIServer
import FascoCore
import FoundationEssentials
import GRPCTransport
import ImageStore
import Testing
import TestSupport

@Suite("ImageService over CRI, with images imported from OCI layouts")
struct ImageServiceTests {
    /// Imports a layout through Fasco's admin API, as `fasco image import` does.
    static func importThroughAdmin(_ server: TestServer, _ layout: String, name: String? = nil) async throws -> AdminService.ImportResponse {
        let request = Array(try JSONEncoder().encode(AdminService.ImportRequest(path: layout, name: name)))
        let bytes = try await server.channel.unary(AdminService.importPath, request: request)
        return try JSONDecoder().decode(AdminService.ImportResponse.self, from: Data(bytes))
    }

    @Test("an imported image is listed, and ImageStatus finds it by tag, short name, ID and digest")
    func statusByEveryReference() async throws {
        let server = try TestServer()
        try await withCleanUp({ await server.stop() }) {
            let built = try TestImages.layout(in: server.directory, name: "docker.io/library/tiny:1.0",
                                              files: ["etc/hello": "hi"], user: "1002")
            let imported = try await Self.importThroughAdmin(server, built.layout)
            #expect(imported.images.map(\.id) == [built.configDigest.description])
            #expect(imported.images.first?.repoTags == ["docker.io/library/tiny:1.0"])

            let list = try await server.imageService.listImages()
            #expect(list.images.map(\.id) == [built.configDigest.description])
            let image = try #require(list.images.first)
            #expect(image.repoDigests == ["docker.io/library/tiny@\(built.manifestDigest)"])
            #expect(image.uid?.value == 1002)
            #expect(image.username == "")
            #expect(image.size > 0)

            for name in ["tiny:1.0", "docker.io/library/tiny:1.0", built.configDigest.description,
                         built.configDigest.encoded, String(built.configDigest.encoded.prefix(12)),
                         "docker.io/library/tiny@\(built.manifestDigest)"] {
                let status = try await server.imageService.imageStatus(ImageStatusRequest(image: ImageSpec(image: name)))
                #expect(status.image == image, "ImageStatus(\(name))")
            }
            let verbose = try await server.imageService.imageStatus(ImageStatusRequest(image: ImageSpec(image: "tiny:1.0"), verbose: true))
            #expect(verbose.info["info"]?.contains(#""diff_ids""#) == true)
            #expect(verbose.info["info"]?.contains(built.manifestDigest.description) == true)
        }
    }

    @Test("an unknown image has no status (not an error), and a name-only user has no uid")
    func unknownImage() async throws {
        let server = try TestServer()
        try await withCleanUp({ await server.stop() }) {
            let status = try await server.imageService.imageStatus(ImageStatusRequest(image: ImageSpec(image: "missing:1")))
            #expect(status.image == nil)
            let built = try TestImages.layout(in: server.directory, name: "docker.io/library/named:1", files: ["a": "b"], user: "www-data:1004")
            _ = try await server.images.importImages(from: built.layout)
            let named = try await server.imageService.imageStatus(ImageStatusRequest(image: ImageSpec(image: "named:1")))
            #expect(named.image?.uid == nil)
            #expect(named.image?.username == "www-data")
        }
    }

    @Test("ListImages filters by reference")
    func listFilter() async throws {
        let server = try TestServer()
        try await withCleanUp({ await server.stop() }) {
            let one = try TestImages.layout(in: server.directory, name: "docker.io/library/one:1", files: ["one": "1"])
            let two = try TestImages.layout(in: server.directory, name: "docker.io/library/two:2", files: ["two": "2"])
            _ = try await server.images.importImages(from: one.layout)
            _ = try await server.images.importImages(from: two.layout)
            let all = try await server.imageService.listImages()
            #expect(Set(all.images.map(\.id)) == [one.configDigest.description, two.configDigest.description])
            let filtered = try await server.imageService.listImages(ListImagesRequest(filter: ImageFilter(image: ImageSpec(image: "two:2"))))
            #expect(filtered.images.map(\.id) == [two.configDigest.description])
            let none = try await server.imageService.listImages(ListImagesRequest(filter: ImageFilter(image: ImageSpec(image: "three:3"))))
            #expect(none.images.isEmpty)
        }
    }

    @Test("RemoveImage by tag removes the image and its content; removing it again succeeds")
    func remove() async throws {
        let server = try TestServer()
        try await withCleanUp({ await server.stop() }) {
            let built = try TestImages.layout(in: server.directory, name: "docker.io/library/gone:1", files: ["x": "y"])
            _ = try await server.images.importImages(from: built.layout)
            #expect(server.images.content.contains(built.configDigest))
            _ = try await server.imageService.removeImage(RemoveImageRequest(image: ImageSpec(image: "gone:1")))
            #expect(try await server.imageService.listImages().images.isEmpty)
            #expect(!server.images.content.contains(built.configDigest), "unreferenced content is collected")
            #expect(try server.images.content.allDigests().isEmpty)
            #expect(try server.images.snapshots.all().isEmpty)
            _ = try await server.imageService.removeImage(RemoveImageRequest(image: ImageSpec(image: "gone:1")))
        }
    }

    @Test("an image a container uses keeps its snapshots until the container lets go")
    func removeWhileInUse() async throws {
        let server = try TestServer()
        try await withCleanUp({ await server.stop() }) {
            let built = try TestImages.layout(in: server.directory, name: "docker.io/library/busy:1", files: ["bin/tool": "#!"])
            let record = try #require(try await server.images.importImages(from: built.layout).first)
            let lease = try await server.images.lease(record.id, to: "container-1")
            _ = try await server.imageService.removeImage(RemoveImageRequest(image: ImageSpec(image: record.id.description)))
            #expect(try await server.imageService.listImages().images.isEmpty)
            for chainID in lease.chainIDs { #expect(server.images.snapshots.contains(chainID), "kept for the container") }
            try await server.images.release("container-1")
            for chainID in lease.chainIDs { #expect(!server.images.snapshots.contains(chainID), "collected after release") }
        }
    }

    @Test("a registry that refuses connections is UNAVAILABLE naming the connection failure (the real registry client)")
    func unreachableRegistry() async throws {
        // Port 1 on loopback: nothing listens there, so the connection is refused at once.
        let server = try TestServer(sources: RegistryHosts().source)
        await withCleanUp({ await server.stop() }) {
            let unreachable = await statusOf {
                _ = try await server.imageService.pullImage(PullImageRequest(image: ImageSpec(image: "127.0.0.1:1/fasco/busybox:latest")), timeout: .seconds(120))
            }
            #expect(unreachable?.code == .unavailable, "\(String(describing: unreachable))")
            #expect(unreachable?.message.contains("connection failed") == true, "\(String(describing: unreachable))")
        }
    }

    @Test("bad requests: empty image names, bad names and bad import paths get clear statuses")
    func badRequests() async throws {
        let server = try TestServer()
        await withCleanUp({ await server.stop() }) {
            let empty = await statusOf { _ = try await server.imageService.pullImage(PullImageRequest(image: ImageSpec(image: ""))) }
            #expect(empty?.code == .invalidArgument)
            let invalid = await statusOf { _ = try await server.imageService.pullImage(PullImageRequest(image: ImageSpec(image: "UPPER/case"))) }
            #expect(invalid?.code == .invalidArgument)
            #expect(invalid?.message.contains("UPPER/case") == true)
            let noPath = await statusOf { _ = try await Self.importThroughAdmin(server, "/nonexistent/layout") }
            #expect(noPath?.code == .notFound)
            let garbage = await statusOf { _ = try await server.channel.unary(AdminService.importPath, request: [1, 2, 3]) }
            #expect(garbage?.code == .invalidArgument)
        }
    }
}
