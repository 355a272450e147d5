import FascoCore
import FoundationEssentials
import OCISpec

/// The canonical document a Container Realm's RIM measures: the image it runs and every field
/// of its OCI runtime spec that defines behaviour, with what differs between instances left
/// out (docs/attestation.md lists each field). Its bytes are JSON with sorted keys and no
/// whitespace, so the same deployment always gives the same bytes.
public struct ContainerRealmDocument: Sendable, Equatable, Codable {
    public static let currentVersion = "fasco.container-realm/1"

    public struct User: Sendable, Equatable, Codable {
        public var uid: UInt32
        public var gid: UInt32
        public var additionalGids: [UInt32]
        public var umask: UInt32?
        public var username: String?
    }

    public struct Process: Sendable, Equatable, Codable {
        public var args: [String]
        /// In order, without kubelet's service links and the HOSTNAME Fasco sets.
        public var env: [String]
        public var cwd: String
        public var user: User
        public var terminal: Bool
        public var capabilities: RuntimeSpec.Process.Capabilities?
        public var noNewPrivileges: Bool
        public var rlimits: [RuntimeSpec.Process.Rlimit]
        public var apparmorProfile: String?
    }

    public struct Mount: Sendable, Equatable, Codable {
        public var destination: String
        public var type: String?
        /// With Fasco's directories and the instance's IDs replaced by placeholders.
        public var source: String?
        public var options: [String]
    }

    /// An ID mapping without its host ID (allocated per pod by kubelet).
    public struct IDRange: Sendable, Equatable, Codable {
        public var containerID: UInt32
        public var size: UInt32
    }

    public struct Linux: Sendable, Equatable, Codable {
        /// Namespace types, without the paths of the pod's namespaces.
        public var namespaces: [String]
        public var uidMappings: [IDRange]
        public var gidMappings: [IDRange]
        public var sysctl: [String: String]
        public var devices: [RuntimeSpec.Linux.Device]
        public var seccomp: RuntimeSpec.Linux.Seccomp?
        public var rootfsPropagation: String?
        public var maskedPaths: [String]
        public var readonlyPaths: [String]
    }

    public var version: String
    public var image: MeasuredImage
    public var process: Process
    public var readonlyRootfs: Bool
    public var mounts: [Mount]
    public var linux: Linux

    /// The document for a container of `image` that runs as `spec` says, in `instance`.
    public init(spec: RuntimeSpec, image: MeasuredImage, instance: RealmInstance) {
        version = Self.currentVersion
        self.image = image
        let process = spec.process
        let hostnameEntry = spec.hostname.map { "HOSTNAME=" + $0 }
        self.process = Process(
            args: process?.args ?? [],
            env: (process?.env ?? []).filter { $0 != hostnameEntry && !ServiceLinks.isServiceLink($0) },
            cwd: process?.cwd ?? "/",
            user: User(uid: process?.user.uid ?? 0, gid: process?.user.gid ?? 0,
                       additionalGids: process?.user.additionalGids ?? [], umask: process?.user.umask,
                       username: process?.user.username),
            terminal: process?.terminal ?? false,
            capabilities: process?.capabilities,
            noNewPrivileges: process?.noNewPrivileges ?? false,
            rlimits: process?.rlimits ?? [],
            apparmorProfile: process?.apparmorProfile)
        readonlyRootfs = spec.root?.readonly ?? false
        mounts = (spec.mounts ?? []).map { mount in
            Mount(destination: mount.destination, type: mount.type, source: mount.source.map(instance.normalize),
                  options: mount.options ?? [])
        }
        let linux = spec.linux
        self.linux = Linux(
            namespaces: (linux?.namespaces ?? []).map(\.type.rawValue),
            uidMappings: (linux?.uidMappings ?? []).map { IDRange(containerID: $0.containerID, size: $0.size) },
            gidMappings: (linux?.gidMappings ?? []).map { IDRange(containerID: $0.containerID, size: $0.size) },
            sysctl: linux?.sysctl ?? [:],
            devices: linux?.devices ?? [],
            seccomp: linux?.seccomp,
            rootfsPropagation: linux?.rootfsPropagation,
            maskedPaths: linux?.maskedPaths ?? [],
            readonlyPaths: linux?.readonlyPaths ?? [])
    }

    /// The canonical bytes: JSON, keys sorted, no whitespace, slashes unescaped.
    public func canonicalBytes() throws(FascoError) -> [UInt8] {
        try CanonicalJSON.encode(self)
    }
}

/// JSON with sorted keys, no whitespace and unescaped slashes: the form of every measured document.
public enum CanonicalJSON {
    public static func encode<T: Encodable>(_ value: T) throws(FascoError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do { return Array(try encoder.encode(value)) } catch {
            throw .internal("cannot encode a measured document", cause: error)
        }
    }
}
