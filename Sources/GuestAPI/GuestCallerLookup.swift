import CLinux
import FascoCore
#if canImport(Glibc)
import Glibc
#endif

/// Who is at the other end of a guest API connection, from the kernel alone: for the unix
/// socket, SO_PEERCRED's PID; for TCP on the pod's loopback, the processes holding the peer's
/// socket, found by its inode in the pod's TCP table and in the file tables of the processes in
/// the pod's network namespace. Runs on the connection's own thread, which is in the pod's
/// network namespace (threads inherit the namespaces of the thread that made them).
enum GuestCallerLookup {
    /// The PID that connected to a unix socket; nil when the kernel does not say.
    static func unixPeer(_ fd: Int32) -> Int32? {
        let pid = fasco_peer_pid(fd)
        return pid > 0 ? pid : nil
    }

    /// An IPv4 TCP endpoint as the kernel's tables print it: the address as the 32-bit value in
    /// memory order (`%08X` of `s_addr`), the port as a number.
    struct Endpoint: Sendable, Equatable {
        var address: UInt32
        var port: UInt16

        var isLoopback: Bool { UInt32(bigEndian: address) >> 24 == 127 }
    }

    /// The local and remote endpoints of a connected IPv4 socket; nil for another family.
    static func endpoints(_ fd: Int32) -> (local: Endpoint, remote: Endpoint)? {
        func endpoint(_ call: (UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32) -> Endpoint? {
            var storage = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let result = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { call($0, &length) } }
            guard result == 0, storage.sin_family == sa_family_t(AF_INET) else { return nil }
            return Endpoint(address: storage.sin_addr.s_addr, port: UInt16(bigEndian: storage.sin_port))
        }
        guard let local = endpoint({ getsockname(fd, $0, $1) }), let remote = endpoint({ getpeername(fd, $0, $1) }) else { return nil }
        return (local, remote)
    }

    /// The inode of the socket whose local end is `local` and remote end `remote` in `table`
    /// (the text of /proc/.../net/tcp); nil when there is none or it has no inode (closed).
    static func socketInode(in table: String, local: Endpoint, remote: Endpoint) -> UInt64? {
        for line in table.split(separator: "\n").dropFirst() {
            let columns = line.split(separator: " ", omittingEmptySubsequences: true)
            guard columns.count >= 10, let l = parseEndpoint(columns[1]), let r = parseEndpoint(columns[2]) else { continue }
            guard l == local, r == remote, let inode = UInt64(columns[9]), inode != 0 else { continue }
            return inode
        }
        return nil
    }

    static func parseEndpoint(_ text: Substring) -> Endpoint? {
        let parts = text.split(separator: ":")
        guard parts.count == 2, parts[0].count == 8, let address = UInt32(parts[0], radix: 16), let port = UInt16(parts[1], radix: 16) else {
            return nil
        }
        // The kernel prints the address's 32 bits as a host-order number of the network-order bytes.
        return Endpoint(address: address, port: port)
    }

    /// The processes (host PIDs, the daemon excluded) in the calling thread's network namespace
    /// that hold the TCP socket connected from `remote` to `local` (the server's end); empty when
    /// none is found (the peer closed, or holds it from elsewhere).
    static func tcpPeerProcesses(local: Endpoint, remote: Endpoint, maxProcesses: Int = 65536) -> [Int32] {
        guard let table = try? FileSystem.read("/proc/thread-self/net/tcp", limit: 16 << 20),
              let inode = socketInode(in: String(decoding: table, as: UTF8.self), local: remote, remote: local) else { return [] }
        guard let namespace = identity("/proc/thread-self/ns/net") else { return [] }
        let target = "socket:[\(inode)]"
        let me = getpid()
        var holders: [Int32] = []
        var seen = 0
        for pid in processIDs() where pid != me {
            seen += 1
            if seen > maxProcesses { break }
            guard identity("/proc/\(pid)/ns/net") == namespace else { continue }
            if holdsDescriptor(pid: pid, target: target) { holders.append(pid) }
        }
        return holders
    }

    /// The PIDs in /proc.
    static func processIDs() -> [Int32] {
        guard let directory = opendir("/proc") else { return [] }
        defer { closedir(directory) }
        var pids: [Int32] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if let pid = Int32(name), pid > 0 { pids.append(pid) }
        }
        return pids
    }

    /// Whether one of `pid`'s descriptors is `target` (`socket:[inode]`).
    static func holdsDescriptor(pid: Int32, target: String) -> Bool {
        let path = "/proc/\(pid)/fd"
        guard let directory = opendir(path) else { return false }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard Int32(name) != nil else { continue }
            if link(path + "/" + name) == target { return true }
        }
        return false
    }

    static func link(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A namespace's identity (device and inode of its nsfs file).
    static func identity(_ path: String) -> [UInt64]? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return [UInt64(info.st_dev), UInt64(info.st_ino)]
    }
}
