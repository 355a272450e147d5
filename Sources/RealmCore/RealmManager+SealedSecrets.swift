import FascoCore
import OCISpec
#if canImport(Glibc)
import Glibc
#endif

/// CoCo's sealed secrets (`sealed.` + a compact JWS) in a container's environment values and in
/// the files of its bind mounts (secret volumes), unsealed at StartContainer through the key
/// broker as the container's realm, before its process exists. The measurement (made at
/// CreateContainer) keeps the sealed form; the plaintext goes only to the process: its
/// environment in the bundle's config.json, its files in a copy under the state directory
/// (`<state>/unsealed/<container ID>/`, removed with the container) mounted instead of the
/// original. A failure is FAILED_PRECONDITION naming the variable or file, never its value.
extension RealmManager {
    /// Sealed files larger than this are not secrets (and are left alone).
    static let maxSealedFile = 1 << 20

    func unsealedDirectory(of container: ContainerRealm) -> String {
        (directories.state.isEmpty ? "/run/fasco" : directories.state) + "/unsealed/" + container.id.value
    }

    func unsealSecrets(_ container: ContainerRealm, of pod: SystemRealm, bundle: String) async throws(FascoError) {
        var spec = try await backend.runtimeSpec(of: container, bundle: bundle)
        var changed = false
        // Environment values.
        var environment = spec.process?.env ?? []
        for index in environment.indices {
            let entry = environment[index]
            guard let equals = entry.firstIndex(of: "=") else { continue }
            let value = String(entry[entry.index(after: equals)...])
            guard value.hasPrefix(SealedSecretPrefix.value) else { continue }
            let name = String(entry[..<equals])
            let plaintext = try await unseal(value, what: "environment variable \(name) of container \(container.id.short)", container, pod)
            guard !plaintext.contains(0), let text = String(validating: plaintext, as: UTF8.self) else {
                throw .failedPrecondition("environment variable \(name) of container \(container.id.short): the unsealed secret is not UTF-8 text without NUL, so it cannot be an environment value")
            }
            environment[index] = name + "=" + text
            changed = true
        }
        if changed { spec.process?.env = environment }
        // Files of bind mounts: a sealed file, or a directory (a secret volume) holding sealed files.
        var mounts = spec.mounts ?? []
        for index in mounts.indices {
            let mount = mounts[index]
            guard let source = mount.source, source.hasPrefix("/"),
                  mount.type == "bind" || (mount.options ?? []).contains(where: { $0 == "bind" || $0 == "rbind" }) else { continue }
            let target = unsealedDirectory(of: container) + "/\(index)"
            if let replaced = try await unsealMount(source: source, destination: mount.destination, target: target, container, pod) {
                mounts[index].source = replaced
                changed = true
            }
        }
        if changed {
            spec.mounts = mounts
            try await backend.replaceRuntimeSpec(of: container, bundle: bundle, with: spec)
        }
    }

    /// The sealed secret's plaintext, or FAILED_PRECONDITION naming `what`.
    private func unseal(_ sealed: String, what: String, _ container: ContainerRealm, _ pod: SystemRealm) async throws(FascoError) -> [UInt8] {
        guard let keyRelease, keyRelease.isConfigured(for: pod) else {
            throw .failedPrecondition("\(what) is a sealed secret, but no key broker is configured for its pod (initdata cdh.toml [kbc] url, or fasco.toml [kbs] url)")
        }
        do throws(FascoError) {
            return try await keyRelease.unseal(sealed, realm: container.id, of: pod, evidence: evidence(of: container))
        } catch {
            throw .failedPrecondition("\(what) cannot be unsealed: \(error.message)")
        }
    }

    /// A sealed file's text (trailing whitespace dropped), or nil when `path` is no regular file
    /// that starts with `sealed.`.
    private static func sealedText(_ path: String) -> (text: String, info: stat)? {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_size <= maxSealedFile,
              startsSealed(path), let bytes = try? FileSystem.read(path, limit: maxSealedFile),
              bytes.starts(with: Array(SealedSecretPrefix.value.utf8)) else { return nil }
        var text = String(decoding: bytes, as: UTF8.self)
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return (text, info)
    }

    /// Whether the file's first bytes are `sealed.` (read without reading the rest).
    private static func startsSealed(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let prefix = Array(SealedSecretPrefix.value.utf8)
        var buffer = [UInt8](repeating: 0, count: prefix.count)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        return count == prefix.count && buffer == prefix
    }

    /// The unsealed copy to mount instead of `source`, or nil when it holds nothing sealed.
    private func unsealMount(source: String, destination: String, target: String,
                             _ container: ContainerRealm, _ pod: SystemRealm) async throws(FascoError) -> String? {
        let what = "file \(destination) of container \(container.id.short)"
        if let sealed = Self.sealedText(source) {
            let plaintext = try await unseal(sealed.text, what: what, container, pod)
            try FileSystem.makeDirectories(FileSystem.parent(of: target), mode: 0o711)
            try Self.write(plaintext, to: target, like: sealed.info)
            return target
        }
        guard FileSystem.isDirectory(source) else { return nil }
        // A secret volume: its files (kubelet's are symlinks into ..data), the hidden ..entries left out.
        let names = try FileSystem.list(source).filter { !$0.hasPrefix("..") }
        guard names.count <= 256 else { return nil }  // not a secret volume
        guard names.contains(where: { Self.sealedText(source + "/" + $0) != nil }) else { return nil }
        var directoryInfo = stat()
        guard stat(source, &directoryInfo) == 0 else { return nil }
        try FileSystem.makeDirectories(target, mode: 0o711)
        _ = chmod(target, directoryInfo.st_mode & 0o7777)
        _ = chown(target, directoryInfo.st_uid, directoryInfo.st_gid)
        for name in names {
            let path = source + "/" + name
            var info = stat()
            guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            let content: [UInt8]
            if let sealed = Self.sealedText(path) {
                content = try await unseal(sealed.text, what: "file \(destination)/\(name) of container \(container.id.short)", container, pod)
            } else {
                content = try FileSystem.read(path, limit: 64 << 20) ?? []
            }
            try Self.write(content, to: target + "/" + name, like: info)
        }
        return target
    }

    /// Writes `bytes` with the mode and owner of the file it replaces (so the container's user reads it as it would the original).
    private static func write(_ bytes: [UInt8], to path: String, like info: stat) throws(FascoError) {
        try FileSystem.writeAtomically(bytes, to: path, mode: 0o600, durable: false)
        _ = chown(path, info.st_uid, info.st_gid)
        _ = chmod(path, info.st_mode & 0o7777)
    }
}
