import Crypto
import FascoCore
import FoundationEssentials
import OCISpec
import Testing
@testable import RealmAttestation

@Suite struct RealmOptionsTests {
    /// Made with Python's gzip and hashlib: gzip of a CoCo initdata TOML, and sha384 of its text.
    static let initData = "H4sIAAAAAAACAxWMQQrCMBBF93OKMpvspokKhoInKUVGrU1ompFk9Pwm/N17vM9pkxI1HMNtwBr47C8Iv7XUKLkjS44sAswvVl4AmUnlSNicMQZmlX3N96fkd9wq7Y+6wLekXgbVzzSO7nQl2+Ymb3176tUf/vCThHUAAAA="
    static let initDataSHA384 = "e6abf188a5ea43a380637ad2cd26cf490551371712a61e4a23279c2aef9dfc9e593855d01130188daa603a61767ac549"

    @Test func defaults() throws {
        let options = try RealmOptions(annotations: [:])
        #expect(options.algorithm == .sha256)
        #expect(options.personalizationValue == [UInt8](repeating: 0, count: 64))
    }

    @Test func initDataDigestIsThePersonalizationValue() throws {
        let options = try RealmOptions(annotations: [RealmOptions.initDataAnnotation: Self.initData,
                                                     RealmOptions.hashAlgorithmAnnotation: "sha-512"])
        #expect(options.algorithm == .sha512)
        #expect(Hex.encode(Array(options.personalizationValue.prefix(48))) == Self.initDataSHA384)
        #expect(options.personalizationValue.dropFirst(48).allSatisfy { $0 == 0 })
    }

    @Test(arguments: [
        [RealmOptions.hashAlgorithmAnnotation: "md5"],
        [RealmOptions.initDataAnnotation: "%%%"],
        [RealmOptions.initDataAnnotation: "H4sIAAAA"],  // truncated gzip
        [RealmOptions.initDataAnnotation: "dmVyc2lvbiA9ICIwLjEuMCIK"],  // version only: no algorithm
        [RealmOptions.initDataAnnotation: "YWxnb3JpdGhtID0gIm1kNSIKdmVyc2lvbiA9ICIwLjEuMCIK"],  // algorithm md5
        [RealmOptions.initDataAnnotation: "YWxnb3JpdGhtID0gInNoYTI1NiIKdmVyc2lvbiA9ICIwLjEuMCIKAGp1bms="],  // a NUL, then more
        [RealmOptions.initDataAnnotation: "YWxnb3JpdGhtID0gCg=="],  // not TOML
        [RealmOptions.initDataAnnotation: "YWxnb3JpdGhtID0gMjU2CnZlcnNpb24gPSAiMC4xLjAiCg=="],  // algorithm not a string
    ])
    func badAnnotationsAreInvalidArgument(annotations: [String: String]) {
        #expect {
            _ = try RealmOptions(annotations: annotations)
        } throws: { error in
            (error as? FascoError)?.code == .invalidArgument
        }
    }

    @Test("hostile initdata (deep nesting, long keys, stray bytes) is INVALID_ARGUMENT, never a crash")
    func hostileInitData() {
        let documents = [
            "algorithm = \"sha256\"\nversion = \"0.1.0\"\nx = " + String(repeating: "[", count: 100_000),
            "algorithm = \"sha256\"\nversion = \"0.1.0\"\nx = " + String(repeating: "{a=", count: 50_000),
            String(repeating: "a.", count: 200_000) + "b = 1",
            "[" + String(repeating: "a.", count: 200_000) + "b]",
            "x = \"\"\"\n\"\"\"\n" + String(repeating: "a . ", count: 100_000) + "b = 1",
            "algorithm = \"sha256\"\n\u{7f}\u{1}version = 1",
        ]
        for document in documents {
            let encoded = Data(document.utf8).base64EncodedString()
            #expect(throws: FascoError.self) { _ = try RealmOptions(annotations: [RealmOptions.initDataAnnotation: encoded]) }
        }
    }
}

@Suite struct ContainerRealmDocumentTests {
    func spec(env: [String], source: String = "/var/lib/fasco/x") -> RuntimeSpec {
        var spec = RuntimeSpec(ociVersion: "1.0.2")
        spec.hostname = "pod-a"
        spec.process = RuntimeSpec.Process(user: .init(uid: 0, gid: 0), args: ["/bin/sh"], env: env, cwd: "/")
        spec.mounts = [RuntimeSpec.Mount(destination: "/etc/hosts", type: "bind", source: source, options: ["rbind"])]
        return spec
    }

    static let image = MeasuredImage(manifest: "sha256:aa", config: "sha256:bb", layers: ["sha256:cc"])

    @Test func serviceLinksAndHostnameAreLeftOut() throws {
        let instance = RealmInstance(root: "/var/lib/fasco", state: "/run/fasco", podID: "podid-0123456789", podUID: "uid-0123456789")
        let links = [
            "KUBERNETES_SERVICE_HOST=10.96.0.1", "KUBERNETES_SERVICE_PORT=443", "KUBERNETES_SERVICE_PORT_HTTPS=443",
            "KUBERNETES_PORT=tcp://10.96.0.1:443", "KUBERNETES_PORT_443_TCP=tcp://10.96.0.1:443",
            "KUBERNETES_PORT_443_TCP_PROTO=tcp", "KUBERNETES_PORT_443_TCP_PORT=443", "KUBERNETES_PORT_443_TCP_ADDR=10.96.0.1",
            "MY_DB_SERVICE_HOST=fd00::10", "MY_DB_PORT=tcp://[fd00::10]:5432",
        ]
        let document = ContainerRealmDocument(spec: spec(env: ["PATH=/bin", "HOSTNAME=pod-a"] + links + ["DB_PORT=5432", "MODE=x"]),
                                              image: Self.image, instance: instance)
        #expect(document.process.env == ["PATH=/bin", "DB_PORT=5432", "MODE=x"])
    }

    @Test(arguments: ["X_SERVICE_HOST=evil.example.com", "X_PORT=http://1.2.3.4:80", "X_PORT_80_TCP_PROTO=udp",
                      "X_SERVICE_PORT=http", "lower_SERVICE_HOST=10.0.0.1", "X_PORT_80_TCP_PORT=81"])
    func lookalikesAreMeasured(entry: String) {
        #expect(!ServiceLinks.isServiceLink(entry))
    }

    @Test func instancePathsAndIDsAreNormalized() throws {
        let a = RealmInstance(root: "/var/lib/fasco", state: "/run/fasco", realmDirectory: "/run/fasco/realms/aaaa1111",
                              podID: "aaaa1111bbbb", podUID: "uid-1111-2222", containerID: "cccc3333dddd")
        #expect(a.normalize("/run/fasco/realms/aaaa1111/hosts") == "<realm>/hosts")
        #expect(a.normalize("/var/lib/kubelet/pods/uid-1111-2222/volumes/x") == "/var/lib/kubelet/pods/<pod-uid>/volumes/x")
        #expect(a.normalize("/var/lib/fasco/containers/cccc3333dddd/x") == "<root>/containers/<container-id>/x")
        #expect(a.normalize("/run/fascoX/y") == "/run/fascoX/y")
        let b = RealmInstance(root: "/var/lib/fasco", state: "/run/fasco", realmDirectory: "/run/fasco/realms/eeee5555",
                              podID: "eeee5555ffff", podUID: "uid-3333-4444", containerID: "99998888aaaa")
        let one = try ContainerRealmDocument(spec: spec(env: [], source: "/run/fasco/realms/aaaa1111/hosts"), image: Self.image, instance: a).canonicalBytes()
        let two = try ContainerRealmDocument(spec: spec(env: [], source: "/run/fasco/realms/eeee5555/hosts"), image: Self.image, instance: b).canonicalBytes()
        #expect(one == two)
        // A different source that is not the instance's measures differently.
        let three = try ContainerRealmDocument(spec: spec(env: [], source: "/etc/hosts"), image: Self.image, instance: b).canonicalBytes()
        #expect(one != three)
    }

    @Test func oneChangedLayerChangesTheRIM() throws {
        let instance = RealmInstance(root: "/r", state: "/s", podID: "pod-0123456789", podUID: "uid-0123456789")
        var other = Self.image
        other.layers = ["sha256:cd"]
        let first = try SoftwareRMM.measureContainerRealm(ContainerRealmDocument(spec: spec(env: []), image: Self.image, instance: instance), options: RealmOptions())
        let second = try SoftwareRMM.measureContainerRealm(ContainerRealmDocument(spec: spec(env: []), image: other, instance: instance), options: RealmOptions())
        let again = try SoftwareRMM.measureContainerRealm(ContainerRealmDocument(spec: spec(env: []), image: Self.image, instance: instance), options: RealmOptions())
        #expect(first.measurement.rim != second.measurement.rim)
        #expect(first.measurement.rim == again.measurement.rim)
        #expect(first.attestationKey != again.attestationKey, "every realm has a key of its own")
    }
}
