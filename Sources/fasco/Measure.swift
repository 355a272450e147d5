import ArgumentParser
import CRIAPI
import CRIServer
import FascoCore
import FascoDaemon
import FoundationEssentials
import ImageStore
import RealmAttestation
import SoftwareRealms
import Yams

/// `fasco measure`: reference values offline, through the code the daemon measures with.
struct Measure: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the measurements (RIM, REMs, log) a pod's System Realm or a container's Container Realm would get.",
        discussion: """
            fasco measure --pod POD                                  the System Realm
            fasco measure --pod POD --container CONTAINER --image IMAGE   the Container Realm
            POD and CONTAINER are the JSON or YAML files crictl takes (runp, create). IMAGE is a
            reference in the local image store under the root, or an OCI image layout: a directory
            holding one image, or oci:DIRECTORY:REF naming one by its ref.name annotation.
            Needs no daemon; prints the JSON `fasco attest --measurements` prints for the live realm.
            """)

    @Option(help: "The pod sandbox config (JSON or YAML, as crictl runp takes it).")
    var pod: String

    @Option(help: "The container config (JSON or YAML, as crictl create takes it).")
    var container: String?

    @Option(help: "The image: a reference in the local image store, or an OCI image layout directory.")
    var image: String?

    @Option(help: "The RuntimeClass handler the pod is run with (default: none).")
    var runtimeHandler = ""

    @OptionGroup var node: NodeOptions

    func validate() throws {
        guard (container == nil) == (image == nil) else { throw ValidationError("--container and --image go together") }
    }

    func run() async throws {
        do {
            let settings = try node.load()
            let supervisorPath = try Daemon.supervisorPath(settings)
            guard let supervisor = try FileSystem.read(supervisorPath, limit: 64 << 20) else {
                throw FascoError.notFound("the supervisor \(supervisorPath) cannot be read")
            }
            let reference = ReferenceMeasurement(root: settings.root, state: settings.state, supervisor: supervisor) { request, directory in
                SoftwareBackend.plannedRuntime(for: request, directory: directory)
            }
            let podConfig = try PodSandboxConfig(json: try Self.load(pod), at: "pod")
            let measurement: RealmMeasurement
            if let container, let image {
                let containerConfig = try ContainerConfig(json: try Self.load(container), at: "container")
                let record: ImageRecord
                let layout = Self.layout(image)
                if let layout {
                    record = try ImageStore.describeLayout(layout.directory, ref: layout.ref)
                } else if let found = try ImageStore.describe(image, storeDirectory: settings.imagesDirectory) {
                    record = found
                } else {
                    throw FascoError.notFound("image \(image) is neither an OCI layout directory nor in the image store under \(settings.imagesDirectory)")
                }
                let scratch = try FileSystem.makeTemporaryDirectory(prefix: "fasco-measure-")
                defer { try? FileSystem.removeTree(scratch) }
                try ImageStore.copyAccountFiles(of: record, storeDirectory: layout == nil ? settings.imagesDirectory : nil,
                                                layoutDirectory: layout?.directory, into: scratch)
                measurement = try reference.containerRealm(containerConfig, image: record, scratch: scratch, pod: podConfig)
            } else {
                measurement = try reference.systemRealm(podConfig, runtimeHandler: runtimeHandler)
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(measurement), as: UTF8.self))
        } catch {
            FileHandleOutput.standardError("fasco measure: \(error)\n")
            throw ExitCode.failure
        }
    }

    /// An OCI layout named as skopeo names one, `oci:DIRECTORY[:REF]`, or a bare directory.
    static func layout(_ image: String) -> (directory: String, ref: String?)? {
        if image.hasPrefix("oci:") {
            let rest = image.dropFirst(4)
            if let colon = rest.lastIndex(of: ":"), !FileSystem.isDirectory(String(rest)) {
                return (String(rest[..<colon]), String(rest[rest.index(after: colon)...]))
            }
            return (String(rest), nil)
        }
        return FileSystem.isDirectory(image) ? (image, nil) : nil
    }

    /// A crictl config file: JSON, or YAML (converted as sigs.k8s.io/yaml does).
    static func load(_ path: String) throws -> CRIJSON {
        guard let bytes = try FileSystem.read(path, limit: 16 << 20) else { throw FascoError.notFound("\(path) does not exist") }
        if let first = bytes.first(where: { ![0x20, 0x09, 0x0a, 0x0d].contains($0) }), first == UInt8(ascii: "{") {
            return try CRIJSON(parsing: bytes)
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw FascoError.invalidArgument("\(path) is not UTF-8") }
        guard let node = try Yams.compose(yaml: text) else { throw FascoError.invalidArgument("\(path) is empty") }
        return try convert(node, path: path)
    }

    static func convert(_ node: Node, path: String) throws -> CRIJSON {
        switch node {
        case .scalar(let scalar):
            guard scalar.style == .plain else { return .string(scalar.string) }
            return NSNullLike.isNull(scalar.string) ? .null : .scalar(scalar.string)
        case .sequence(let sequence):
            return .array(try sequence.map { try convert($0, path: path) })
        case .mapping(let mapping):
            return .object(try mapping.map { entry in
                guard case .scalar(let key) = entry.key else { throw FascoError.invalidArgument("\(path): a mapping key is not a string") }
                return (key.string, try convert(entry.value, path: path))
            })
        @unknown default:
            throw FascoError.invalidArgument("\(path): a YAML node of an unsupported kind")
        }
    }
}

/// YAML's null spellings.
enum NSNullLike {
    static func isNull(_ text: String) -> Bool { ["", "~", "null", "Null", "NULL"].contains(text) }
}
