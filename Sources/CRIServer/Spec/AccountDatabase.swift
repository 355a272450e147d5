import FascoCore
import ImageStore

/// A root filesystem's /etc/passwd and /etc/group, read inside the root (never following a
/// symlink out of it), for resolving user and group names the way the container's libc would.
/// Malformed lines, comments and NIS `+`/`-` entries are skipped, like glibc's files backend.
struct AccountDatabase: Sendable, Equatable {
    /// passwd(5) entry.
    struct User: Sendable, Equatable {
        var name: String
        var uid: UInt32
        var gid: UInt32
    }

    /// group(5) entry.
    struct Group: Sendable, Equatable {
        var name: String
        var gid: UInt32
        var members: [String]
    }

    /// nil when the root has no /etc/passwd (a user name then cannot be resolved).
    var users: [User]?
    /// nil when the root has no /etc/group.
    var groups: [Group]?

    init(users: [User]?, groups: [Group]?) {
        self.users = users
        self.groups = groups
    }

    /// Reads `<rootfs>/etc/passwd` and `<rootfs>/etc/group` with `RESOLVE_IN_ROOT`.
    static func load(rootfs: String) throws(FascoError) -> AccountDatabase {
        let passwd = try RootfsFile.read("/etc/passwd", inRoot: rootfs)
        let group = try RootfsFile.read("/etc/group", inRoot: rootfs)
        return AccountDatabase(users: passwd.map { parseUsers(String(decoding: $0, as: UTF8.self)) },
                               groups: group.map { parseGroups(String(decoding: $0, as: UTF8.self)) })
    }

    func user(named name: String) -> User? { users?.first { $0.name == name } }
    func user(uid: UInt32) -> User? { users?.first { $0.uid == uid } }
    func group(named name: String) -> Group? { groups?.first { $0.name == name } }

    /// `name:password:uid:gid:gecos:home:shell`.
    static func parseUsers(_ text: String) -> [User] {
        records(text, minimumFields: 4).compactMap { fields in
            guard let uid = id(fields[2]), let gid = id(fields[3]) else { return nil }
            return User(name: String(fields[0]), uid: uid, gid: gid)
        }
    }

    /// `name:password:gid:member,member`.
    static func parseGroups(_ text: String) -> [Group] {
        records(text, minimumFields: 3).compactMap { fields in
            guard let gid = id(fields[2]) else { return nil }
            let members = fields.count > 3
                ? fields[3].split(separator: ",").map { String($0.trimmingBlanks) }.filter { !$0.isEmpty }
                : []
            return Group(name: String(fields[0]), gid: gid, members: members)
        }
    }

    private static func records(_ text: String, minimumFields: Int) -> [[Substring]] {
        text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }).compactMap { line in
            let trimmed = line.trimmingBlanks
            guard let first = trimmed.first, first != "#", first != "+", first != "-" else { return nil }
            let fields = trimmed.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count >= minimumFields, !fields[0].isEmpty else { return nil }
            return fields
        }
    }

    /// A decimal ID that fits a uid_t and is not (uid_t)-1.
    static func id(_ text: Substring) -> UInt32? {
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }),
              let value = UInt32(text), value != UInt32.max
        else { return nil }
        return value
    }
}
