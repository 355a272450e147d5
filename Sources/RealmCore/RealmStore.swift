import FascoCore
import FoundationEssentials

/// Realm records on disk, one JSON file per realm, each written atomically
/// (temporary file, fsync, rename, fsync of the directory) before a change is acknowledged.
struct RealmStore: Sendable {
    let root: String
    var systemDirectory: String { root + "/system" }
    var containerDirectory: String { root + "/containers" }

    init(root: String) throws(FascoError) {
        self.root = root
        try FileSystem.makeDirectories(root + "/system", mode: 0o700)
        try FileSystem.makeDirectories(root + "/containers", mode: 0o700)
    }

    func save(_ realm: SystemRealm) throws(FascoError) {
        try write(realm, to: "\(systemDirectory)/\(realm.id).json")
    }

    /// `durable` false skips the fsyncs: the rename stays atomic and survives the daemon's
    /// death, not the host's (see `RealmRegistry.recordMeasurement`).
    func save(_ realm: ContainerRealm, durable: Bool = true) throws(FascoError) {
        try write(realm, to: "\(containerDirectory)/\(realm.id).json", durable: durable)
    }

    func deleteSystemRealm(_ id: RealmID) throws(FascoError) {
        try FileSystem.removeTree("\(systemDirectory)/\(id).json")
        try FileSystem.syncDirectory(systemDirectory)
    }

    func deleteContainerRealm(_ id: RealmID) throws(FascoError) {
        try FileSystem.removeTree("\(containerDirectory)/\(id).json")
        try FileSystem.syncDirectory(containerDirectory)
    }

    /// Every record that reads back whole; the rest are returned as problems (and left for the caller to clean).
    func load<T: Decodable>(_ type: T.Type, from directory: String) throws(FascoError) -> (records: [T], unreadable: [String]) {
        var records: [T] = []
        var unreadable: [String] = []
        for name in try FileSystem.list(directory) {
            let path = "\(directory)/\(name)"
            if name.hasPrefix(".tmp-") {
                // An interrupted write never replaced anything: drop it.
                try FileSystem.removeTree(path)
                continue
            }
            guard name.hasSuffix(".json"), let bytes = try? FileSystem.read(path, limit: 16 << 20),
                  let record = try? JSONDecoder().decode(T.self, from: Data(bytes)) else {
                unreadable.append(path)
                continue
            }
            records.append(record)
        }
        return (records, unreadable)
    }

    private func write<T: Encodable>(_ value: T, to path: String, durable: Bool = true) throws(FascoError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data: Data
        do { data = try encoder.encode(value) } catch { throw .internal("cannot encode \(path)", cause: error) }
        try FileSystem.writeAtomically(Array(data), to: path, mode: 0o600, durable: durable)
    }
}
