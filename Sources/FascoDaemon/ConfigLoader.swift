#if canImport(Glibc)
import Glibc
#endif

extension FascoConfig {
    /// The default location of the configuration file.
    public static let defaultPath = "/etc/fasco/fasco.toml"

    /// Embedded defaults, then the file (`path`, or `defaultFile` when it exists), then validation.
    /// An explicitly named file that is missing is an error; a missing default file is not.
    /// (`defaultFile` is `defaultPath` but for tests, which must not depend on the host's /etc.)
    public static func load(path: String?, defaultFile: String = defaultPath) throws(ConfigError) -> FascoConfig {
        var config = FascoConfig()
        let file = path ?? defaultFile
        guard path != nil || access(file, F_OK) == 0 else { return config }
        let bytes = try readFile(file)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConfigError("\(file) is not valid UTF-8")
        }
        try config.apply(toml: text, source: file)
        return config
    }
}

private func readFile(_ path: String) throws(ConfigError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
        throw ConfigError("cannot read configuration \(path): \(String(cString: strerror(errno)))")
    }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 << 10)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count == 0 { return bytes }
        if count < 0 {
            if errno == EINTR { continue }
            throw ConfigError("cannot read configuration \(path): \(String(cString: strerror(errno)))")
        }
        guard bytes.count + count <= 1 << 20 else { throw ConfigError("configuration \(path) is larger than 1 MiB") }
        bytes.append(contentsOf: chunk[..<count])
    }
}
