import CRIAPI
import FascoCore
import OCISpec

extension ContainerSpecBuilder {
    /// The process identity, as containerd resolves it:
    ///
    /// - the user is `run_as_username`, else `run_as_user`, else the image's `User`
    ///   (`name`, `uid`, `name:group`, `uid:gid`, any mix), else root;
    /// - `run_as_group` overrides the group, and without a user it is INVALID_ARGUMENT;
    /// - a numeric uid takes its primary group from the rootfs' /etc/passwd (0 when absent there);
    ///   a user or group name must be in /etc/passwd or /etc/group (INVALID_ARGUMENT otherwise);
    /// - the supplementary groups are the primary group, then (SupplementalGroupsPolicy Merge,
    ///   the default) the groups /etc/group lists the user in, then `supplemental_groups`.
    ///
    /// With `locked` (an image with encrypted layers, whose account files cannot be read before
    /// its realm received the keys) nothing is read and names are FAILED_PRECONDITION.
    static func user(_ security: LinuxContainerSecurityContext, image: ImageConfiguration.Config?,
                     rootfs: String, locked: Bool = false) throws(FascoError) -> RuntimeSpec.Process.User {
        let criUser: String?
        if !security.runAsUsername.isEmpty {
            criUser = security.runAsUsername
        } else if let uid = security.runAsUser {
            criUser = String(try id(uid.value, "run_as_user"))
        } else {
            criUser = nil
        }
        var specification = criUser ?? ""
        if let group = security.runAsGroup {
            guard let criUser else { throw .invalidArgument("run_as_group \(group.value) is set without a user") }
            specification = criUser + ":" + String(try id(group.value, "run_as_group"))
        }
        if criUser == nil { specification = image?.user ?? "" }

        var supplemental: [UInt32] = []
        for group in security.supplementalGroups {
            supplemental.append(try id(group, "supplemental group"))
        }
        let strict: Bool
        switch security.supplementalGroupsPolicy {
        case .merge: strict = false
        case .strict: strict = true
        case .unrecognized(let value): throw .invalidArgument("unknown supplemental groups policy \(value)")
        }

        if locked, specification.split(separator: ":").contains(where: { AccountDatabase.id($0) == nil }) {
            throw .failedPrecondition("user \(specification.debugDescription) names an account, but the image's layers are encrypted: "
                + "its /etc/passwd and /etc/group cannot be read before the container's realm receives their keys; run as a numeric user (and group)")
        }
        let accounts = locked ? AccountDatabase(users: nil, groups: nil) : try AccountDatabase.load(rootfs: rootfs)
        let (uid, gid) = try resolve(specification, in: accounts)

        // The name /etc/group membership is matched against (containerd: the user part alone).
        var groups: [UInt32] = [gid]
        if !strict {
            let userPart = specification.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            let name: String? = userPart.isEmpty || AccountDatabase.id(Substring(userPart)) != nil
                ? accounts.user(uid: uid)?.name
                : userPart
            if let name {
                for group in accounts.groups ?? [] where group.name != name && group.members.contains(name) {
                    groups.append(group.gid)
                }
            }
        }
        groups.append(contentsOf: supplemental)
        var seen = Set<UInt32>()
        return RuntimeSpec.Process.User(uid: uid, gid: gid, additionalGids: groups.filter { seen.insert($0).inserted })
    }

    /// `user`, `user:group` with names or numbers, against the root's account files.
    static func resolve(_ specification: String, in accounts: AccountDatabase) throws(FascoError) -> (uid: UInt32, gid: UInt32) {
        if specification.isEmpty { return (0, 0) }
        guard !specification.utf8.contains(0) else { throw .invalidArgument("user \(specification.debugDescription) is not valid") }
        let parts = specification.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2, !parts.contains(where: \.isEmpty) else {
            throw .invalidArgument("user \(specification.debugDescription) is not valid (want user or user:group)")
        }
        var uid: UInt32
        var gid: UInt32 = 0
        if let number = AccountDatabase.id(parts[0]) {
            uid = number
            gid = accounts.user(uid: number)?.gid ?? 0
        } else {
            guard let entry = accounts.user(named: String(parts[0])) else {
                throw .invalidArgument("user \(String(parts[0]).debugDescription) is not in the image's /etc/passwd")
            }
            uid = entry.uid
            gid = entry.gid
        }
        if parts.count == 2 {
            if let number = AccountDatabase.id(parts[1]) {
                gid = number
            } else {
                guard let entry = accounts.group(named: String(parts[1])) else {
                    throw .invalidArgument("group \(String(parts[1]).debugDescription) is not in the image's /etc/group")
                }
                gid = entry.gid
            }
        }
        return (uid, gid)
    }

    /// A CRI int64 uid/gid as a uid_t: 0 ... 2^32-2.
    static func id(_ value: Int64, _ what: String) throws(FascoError) -> UInt32 {
        guard value >= 0, value < Int64(UInt32.max) else { throw .invalidArgument("\(what) \(value) is out of range") }
        return UInt32(value)
    }
}
