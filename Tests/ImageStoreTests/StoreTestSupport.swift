import FascoCore
#if canImport(Glibc)
import Glibc
#endif

/// A fresh directory under /var/tmp (ext4 here, like /var/lib), removed by `cleanup`.
func makeTestDirectory(_ label: String) throws -> String {
    var template = Array("/var/tmp/fasco-\(label)-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { buffer -> String? in
        guard let base = buffer.baseAddress, let result = mkdtemp(base) else { return nil }
        return String(cString: result)
    }
    guard let made else { throw FascoError.internal("mkdtemp failed: \(FileSystem.errnoText)") }
    return made
}

func cleanup(_ path: String) {
    try? FileSystem.removeTree(path)
}

func writeFile(_ path: String, _ text: String, mode: mode_t = 0o644) throws {
    try FileSystem.writeAtomically(Array(text.utf8), to: path, mode: mode)
}

func readText(_ path: String) -> String? {
    (try? FileSystem.read(path)).flatMap { $0 }.map { String(decoding: $0, as: UTF8.self) }
}

func fileType(_ path: String) -> mode_t? {
    var info = stat()
    return lstat(path, &info) == 0 ? info.st_mode & S_IFMT : nil
}

/// Whether something is mounted at `path` (mountinfo's fifth field), read to the end of the
/// file (a single read of a proc file stops at a page).
func isMounted(_ path: String) -> Bool {
    guard let bytes = try? FileSystem.read("/proc/self/mountinfo", limit: 64 << 20) else { return false }
    return String(decoding: bytes, as: UTF8.self).split(separator: "\n").contains { line in
        let fields = line.split(separator: " ")
        return fields.count > 4 && fields[4] == path
    }
}
