import FascoCore
#if canImport(Glibc)
import Glibc
#endif

extension CNINetworkConfig {
    /// The file extensions read from the configuration directory.
    static let fileExtensions = [".conflist", ".conf", ".json"]

    /// The configuration kubelet's runtimes use: the first `*.conflist`, `*.conf` or `*.json`
    /// file of `directory` in lexical (byte) order. Hidden files are skipped, so that a file
    /// being written atomically (a hidden temporary renamed into place) is never read half done.
    /// A missing or empty directory is `failedPrecondition`, as is a first file that does not parse.
    static func load(directory: String) throws(FascoError) -> CNINetworkConfig {
        guard let name = try firstFile(in: directory) else {
            throw .failedPrecondition(
                "no network configuration (\(fileExtensions.map { "*" + $0 }.joined(separator: ", "))) in \(directory)")
        }
        let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
        let bytes: [UInt8]?
        do throws(FascoError) {
            bytes = try FileSystem.read(path, limit: 1 << 20)
        } catch {
            throw .failedPrecondition("cannot read network configuration \(path): \(error.message)")
        }
        guard let bytes else { throw .failedPrecondition("network configuration \(path) disappeared while being read") }
        return try parse(bytes, source: path)
    }

    /// The name of the configuration file to use, nil when there is none.
    static func firstFile(in directory: String) throws(FascoError) -> String? {
        let names: [String]
        do throws(FascoError) {
            names = try FileSystem.list(directory)
        } catch {
            throw .failedPrecondition("cannot list the network configuration directory: \(error.message)")
        }
        let candidates = names.filter { name in
            !name.hasPrefix(".") && fileExtensions.contains { name.hasSuffix($0) && name.utf8.count > $0.utf8.count }
        }
        // Byte order, as Go's sort.Strings, whatever the String comparison does.
        let ordered = candidates.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        return ordered.first { isRegularFile(directory + "/" + $0) }
    }

    private static func isRegularFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }
}
