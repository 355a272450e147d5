import FascoCore
import ImageStore
import Testing

@Suite("image references")
struct ImageReferenceTests {
    static let digest = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

    @Test("normalised as kubelet and containerd do", arguments: [
        ("busybox", "docker.io/library/busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36"),
        ("library/busybox", "docker.io/library/busybox:latest"),
        ("docker.io/busybox", "docker.io/library/busybox:latest"),
        ("index.docker.io/library/busybox:1", "docker.io/library/busybox:1"),
        ("user/app", "docker.io/user/app:latest"),
        ("registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10"),
        ("registry.k8s.io/e2e-test-images/busybox:1.29-2", "registry.k8s.io/e2e-test-images/busybox:1.29-2"),
        ("127.0.0.1:5000/fasco/busybox", "127.0.0.1:5000/fasco/busybox:latest"),
        ("localhost/app:v1", "localhost/app:v1"),
        ("localhost:5000/a/b/c:tag", "localhost:5000/a/b/c:tag"),
        ("[::1]:5000/app:v1", "[::1]:5000/app:v1"),
        ("gcr.io/k8s-staging-cri-tools/test-image-tags:1", "gcr.io/k8s-staging-cri-tools/test-image-tags:1"),
        ("my_app.v2--x__y", "docker.io/library/my_app.v2--x__y:latest"),
        ("busybox@\(digest)", "docker.io/library/busybox@\(digest)"),
        ("busybox:1.36@\(digest)", "docker.io/library/busybox@\(digest)"),
    ])
    func normalises(input: String, expected: String) throws {
        #expect(try ImageReference(parsing: input).description == expected)
    }

    @Test("parts: domain, path, tag, digest")
    func parts() throws {
        let reference = try ImageReference(parsing: "127.0.0.1:5000/fasco/busybox:1.36@\(Self.digest)")
        #expect(reference.domain == "127.0.0.1:5000")
        #expect(reference.path == "fasco/busybox")
        #expect(reference.tag == "1.36")
        #expect(reference.digest?.description == Self.digest)
        #expect(reference.registryReference == Self.digest)
        #expect(reference.taggedName == "127.0.0.1:5000/fasco/busybox:1.36")
        let plain = try ImageReference(parsing: "busybox")
        #expect(plain.registryReference == "latest")
        #expect(try ImageReference(parsing: "busybox@\(Self.digest)").taggedName == nil)
    }

    @Test("invalid references are INVALID_ARGUMENT naming the input", arguments: [
        "", "Busybox", "busybox:", ":tag", "busybox:-bad", "busybox@sha256:123", "a//b", "/busybox",
        "busybox/", "bad..name", "-lead", "trail-", "host:99999/app", "registry.k8s.io/UPPER/x",
        String(repeating: "a", count: 300), "busybox:" + String(repeating: "t", count: 129), "a b", "x@y",
    ])
    func rejects(input: String) {
        #expect {
            try ImageReference(parsing: input)
        } throws: { error in
            guard let error = error as? FascoError else { return false }
            return error.code == .invalidArgument && error.message.contains("invalid image reference")
        }
    }
}
