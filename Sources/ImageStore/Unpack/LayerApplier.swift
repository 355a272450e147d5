import CImageLibs
import FascoCore
import Glibc

/// Applies tar entries to a root directory, one at a time, without ever letting a
/// name or a symlink reach outside the root.
///
/// How paths stay inside the root: the root is opened once as an O_PATH directory
/// descriptor. For every entry the *parent* directory is opened with openat2(2)
/// and RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS relative to that descriptor, so the
/// kernel resolves every component (symlinks, "..", absolute symlink targets) as
/// if the root were "/" — a lower-layer symlink `etc -> /etc` leads to
/// `<root>/etc`, never the host's. The final component is then handled with the
/// *at call on that parent descriptor, never following it: mkdirat, symlinkat,
/// mknodat, linkat (no AT_SYMLINK_FOLLOW), openat with O_CREAT|O_EXCL|O_NOFOLLOW,
/// fchownat/utimensat with AT_SYMLINK_NOFOLLOW, unlinkat. Whatever a name points
/// at, the unpacker replaces the name, not its target.
struct LayerApplier: ~Copyable {
    private let rootFd: Int32
    private let rootPath: String
    /// The root's absolute path as the kernel reports it, to map a directory
    /// descriptor back to a path inside the root.
    private let rootRealPath: [UInt8]?
    private let preserveOwnership: Bool

    /// Every path this layer created or wrote into (entries and their ancestors),
    /// joined with "/": whiteouts and opaque markers only remove what is *not* in
    /// here, i.e. content of lower layers (image-spec layer.md "Whiteouts").
    private var layerPaths: Set<[UInt8]> = []
    /// Directory modes and times, applied after all entries so that creating
    /// children does not disturb them and read-only modes do not block the children.
    private var directories: [DirectoryMetadata] = []
    /// The last parent directory opened: consecutive entries usually share it.
    private var cachedParentKey: [UInt8] = []
    private var cachedParentFd: Int32 = -1

    private struct DirectoryMetadata {
        var path: [[UInt8]]
        var mode: mode_t
        var times: (timespec, timespec)?
    }

    init(root: String, preserveOwnership: Bool) throws(FascoError) {
        let fd = open(root, UnpackSys.pathOnly | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT { throw .notFound("unpack root \(root) does not exist") }
            throw .unpack("cannot open unpack root \(root)", errno: code)
        }
        rootFd = fd
        rootPath = root
        rootRealPath = UnpackSys.readlink(Array("/proc/self/fd/\(fd)".utf8))
        self.preserveOwnership = preserveOwnership
    }

    deinit {
        if cachedParentFd >= 0 { close(cachedParentFd) }
        close(rootFd)
    }

    // MARK: entries

    /// Applies the entry `archive` has just read (its data, if any, is read here).
    mutating func apply(_ entry: OpaquePointer, archive: OpaquePointer, source: LayerSource) throws(FascoError) {
        guard let rawName = Self.bytes(archive_entry_pathname(entry)) ?? Self.bytes(archive_entry_pathname_utf8(entry)) else {
            throw .invalidArgument("layer has an entry without a name")
        }
        let name = LayerPath.display(rawName)
        guard let path = LayerPath.normalize(rawName) else {
            throw .invalidArgument("layer entry \"\(name)\" escapes the root directory")
        }

        if let leaf = path.last, leaf.starts(with: LayerPath.whiteoutPrefix) {
            try applyWhiteout(path, name: name)
            return
        }

        let fileType = archive_entry_filetype(entry) & 0o170000
        let hardlink = Self.bytes(archive_entry_hardlink(entry)) ?? Self.bytes(archive_entry_hardlink_utf8(entry))

        guard let leaf = path.last else {
            // The root itself ("./"): only a directory entry makes sense; it sets the root's metadata.
            guard hardlink == nil, fileType == Self.typeDirectory else {
                throw .invalidArgument("layer entry \"\(name)\" would replace the root directory")
            }
            try setOwner(entry, parent: rootFd, leaf: LayerPath.dot, name: name)
            try applyXattrs(entry, target: .directory(parent: rootFd, leaf: LayerPath.dot), name: name)
            directories.append(DirectoryMetadata(path: [], mode: archive_entry_perm(entry), times: Self.times(entry)))
            return
        }

        markInLayer(LayerPath.join(path))
        let parent = try parentDirectory(path.dropLast(), name: name)

        if let hardlink {
            try createHardLink(target: hardlink, at: path, parent: parent, leaf: leaf, name: name)
            return
        }

        switch fileType {
        case Self.typeDirectory:
            try createDirectory(entry, path: path, parent: parent, leaf: leaf, name: name)
        case Self.typeRegular:
            try createRegularFile(entry, archive: archive, source: source, parent: parent, leaf: leaf, name: name)
        case Self.typeSymlink:
            try createSymlink(entry, parent: parent, leaf: leaf, name: name)
        case Self.typeCharacter, Self.typeBlock, Self.typeFIFO:
            try createNode(entry, type: fileType, parent: parent, leaf: leaf, name: name)
        default:
            // Sockets and unknown types cannot be meaningfully restored from a tar; skip them.
            break
        }
    }

    static let typeRegular: mode_t = 0o100000
    static let typeDirectory: mode_t = 0o040000
    static let typeSymlink: mode_t = 0o120000
    static let typeCharacter: mode_t = 0o020000
    static let typeBlock: mode_t = 0o060000
    static let typeFIFO: mode_t = 0o010000

    private mutating func createDirectory(
        _ entry: OpaquePointer, path: [[UInt8]], parent: Int32, leaf: [UInt8], name: String
    ) throws(FascoError) {
        var code = UnpackSys.mkdirat(parent, leaf, mode: 0o700)
        if code == EEXIST {
            if let existing = UnpackSys.lstatat(parent, leaf).info, existing.st_mode & 0o170000 == Self.typeDirectory {
                // A directory over a directory merges: the old children stay, the metadata is the new entry's.
                code = 0
            } else {
                try removeTree(parent, leaf, name: name)
                code = UnpackSys.mkdirat(parent, leaf, mode: 0o700)
            }
        }
        guard code == 0 else { throw .unpack("layer entry \"\(name)\": cannot create the directory", errno: code) }
        try setOwner(entry, parent: parent, leaf: leaf, name: name)
        try applyXattrs(entry, target: .directory(parent: parent, leaf: leaf), name: name)
        directories.append(DirectoryMetadata(path: path, mode: archive_entry_perm(entry), times: Self.times(entry)))
    }

    private mutating func createRegularFile(
        _ entry: OpaquePointer, archive: OpaquePointer, source: LayerSource, parent: Int32, leaf: [UInt8], name: String
    ) throws(FascoError) {
        // O_EXCL: never opens an existing name, and never follows a symlink. An
        // existing name is removed, never written through: it may be a hard link
        // shared with a lower layer, or a symlink.
        var fd: Int32 = -1
        try createReplacing(parent, leaf, name: name, what: "the file") {
            let opened = UnpackSys.openat(parent, leaf, flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600)
            fd = opened.fd
            return opened.errno
        }
        defer { close(fd) }

        var end: Int64 = 0
        while true {
            var block: UnsafeRawPointer?
            var size = 0
            var offset: la_int64_t = 0
            let rc = archive_read_data_block(archive, &block, &size, &offset)
            if rc == ARCHIVE_EOF { break }
            guard rc == ARCHIVE_OK || rc == ARCHIVE_WARN else {
                throw UnpackArchive.error(archive, source: source, context: "layer entry \"\(name)\": cannot read its data")
            }
            guard offset >= 0 else { throw .invalidArgument("layer entry \"\(name)\" has data at a negative offset") }
            if size > 0, let block {
                let code = UnpackSys.pwriteAll(fd, block, size, offset: offset)
                guard code == 0 else { throw .unpack("layer entry \"\(name)\": cannot write the file", errno: code) }
            }
            end = max(end, offset + Int64(size))
        }
        // A sparse file may end in a hole.
        let declared = archive_entry_size_is_set(entry) != 0 ? archive_entry_size(entry) : end
        if declared > end {
            guard ftruncate(fd, off_t(declared)) == 0 else {
                throw .unpack("layer entry \"\(name)\": cannot extend the file to \(declared) bytes", errno: errno)
            }
        }

        if preserveOwnership {
            let (uid, gid) = try Self.owner(entry, name: name)
            guard fchown(fd, uid, gid) == 0 else { throw .unpack("layer entry \"\(name)\": cannot change its owner", errno: errno) }
        }
        // After chown, which clears set-user-ID and set-group-ID.
        guard fchmod(fd, archive_entry_perm(entry)) == 0 else {
            throw .unpack("layer entry \"\(name)\": cannot change its mode", errno: errno)
        }
        // After chown and the data, either of which drops security.capability.
        try applyXattrs(entry, target: .descriptor(fd, regular: true), name: name)
        if let times = Self.times(entry) {
            let code = UnpackSys.futimens(fd, times)
            guard code == 0 else { throw .unpack("layer entry \"\(name)\": cannot set its times", errno: code) }
        }
    }

    private mutating func createSymlink(_ entry: OpaquePointer, parent: Int32, leaf: [UInt8], name: String) throws(FascoError) {
        guard let target = Self.bytes(archive_entry_symlink(entry)) ?? Self.bytes(archive_entry_symlink_utf8(entry)) else {
            throw .invalidArgument("layer entry \"\(name)\" is a symlink without a target")
        }
        // The target is stored verbatim: it is only ever resolved inside the root.
        try createReplacing(parent, leaf, name: name, what: "the symlink") {
            UnpackSys.symlinkat(target: target, parent, leaf)
        }
        try setOwner(entry, parent: parent, leaf: leaf, name: name)
        try applyXattrs(entry, target: .entry(parent: parent, leaf: leaf), name: name)
        try setTimes(entry, parent: parent, leaf: leaf, name: name)
    }

    private mutating func createNode(
        _ entry: OpaquePointer, type: mode_t, parent: Int32, leaf: [UInt8], name: String
    ) throws(FascoError) {
        let device: dev_t = type == Self.typeFIFO ? 0 : archive_entry_rdev(entry)
        var skipped = false
        let rootless = !preserveOwnership
        try createReplacing(parent, leaf, name: name, what: "the device node or FIFO") {
            let code = UnpackSys.mknodat(parent, leaf, mode: type | 0o600, device: device)
            if code == EPERM && type != Self.typeFIFO && rootless {
                // Without privileges (rootless unpacking) device nodes cannot exist; skip them.
                skipped = true
                return 0
            }
            return code
        }
        if skipped { return }
        try setOwner(entry, parent: parent, leaf: leaf, name: name)
        // The name was just created by mknodat, so it is not a symlink for fchmodat to follow.
        let chmodCode = UnpackSys.fchmodat(parent, leaf, mode: archive_entry_perm(entry))
        guard chmodCode == 0 else { throw .unpack("layer entry \"\(name)\": cannot change its mode", errno: chmodCode) }
        try applyXattrs(entry, target: .entry(parent: parent, leaf: leaf), name: name)
        try setTimes(entry, parent: parent, leaf: leaf, name: name)
    }

    private mutating func createHardLink(
        target rawTarget: [UInt8], at path: [[UInt8]], parent: Int32, leaf: [UInt8], name: String
    ) throws(FascoError) {
        let targetName = LayerPath.display(rawTarget)
        guard let target = LayerPath.normalize(rawTarget) else {
            throw .invalidArgument("layer entry \"\(name)\" is a hard link to \"\(targetName)\", which escapes the root directory")
        }
        guard let targetLeaf = target.last else {
            throw .invalidArgument("layer entry \"\(name)\" is a hard link to the root directory")
        }
        // A link to itself leaves the file as it is.
        if target == path { return }
        var hops = 0
        let targetParent: Int32
        do {
            targetParent = try openDirectory(target.dropLast(), create: false, hops: &hops, name: name)
        } catch where error.code == .invalidArgument {
            throw .invalidArgument("layer entry \"\(name)\" is a hard link to \"\(targetName)\", which does not exist")
        }
        defer { close(targetParent) }
        guard let info = UnpackSys.lstatat(targetParent, targetLeaf).info else {
            throw .invalidArgument("layer entry \"\(name)\" is a hard link to \"\(targetName)\", which does not exist")
        }
        guard info.st_mode & 0o170000 != Self.typeDirectory else {
            throw .invalidArgument("layer entry \"\(name)\" is a hard link to the directory \"\(targetName)\"")
        }
        // Already the same file (the name reaches the target some other way): nothing to do.
        if let existing = UnpackSys.lstatat(parent, leaf).info, existing.st_dev == info.st_dev, existing.st_ino == info.st_ino {
            return
        }
        try createReplacing(parent, leaf, name: name, what: "a hard link to \"\(targetName)\"") {
            UnpackSys.linkat(targetParent, targetLeaf, parent, leaf)
        }
    }

    // MARK: whiteouts

    private mutating func applyWhiteout(_ path: [[UInt8]], name: String) throws(FascoError) {
        guard let leaf = path.last else { return }
        let directory = Array(path.dropLast())
        if leaf == LayerPath.opaqueMarker {
            try applyOpaque(directory, name: name)
            return
        }
        let hidden = Array(leaf.dropFirst(LayerPath.whiteoutPrefix.count))
        // Other ".wh..wh." names are reserved metadata of other tools; they create nothing.
        if hidden.starts(with: LayerPath.whiteoutPrefix) { return }
        guard !hidden.isEmpty, hidden != LayerPath.dot, hidden != LayerPath.dotDot else {
            throw .invalidArgument("layer entry \"\(name)\" is a whiteout of an invalid name")
        }
        guard let dirFd = try openExistingDirectory(directory, name: name) else { return }
        defer { close(dirFd) }
        try removeLowerContent(dirFd, hidden, key: LayerPath.child(LayerPath.join(directory), hidden), name: name)
    }

    /// `.wh..wh..opq`: the directory keeps only what this layer puts in it.
    private mutating func applyOpaque(_ directory: [[UInt8]], name: String) throws(FascoError) {
        guard let dirFd = try openExistingDirectory(directory, name: name) else { return }
        defer { close(dirFd) }
        let key = LayerPath.join(directory)
        if !directory.isEmpty { markInLayer(key) }
        let listing = UnpackSys.listDirectory(dirFd)
        guard listing.errno == 0 else {
            throw .unpack("layer entry \"\(name)\": cannot list the opaque directory", errno: listing.errno)
        }
        for child in listing.names {
            try removeLowerContent(dirFd, child, key: LayerPath.child(key, child), name: name)
        }
    }

    /// Removes what lower layers put at `key` (the name `child` in `dirFd`): all of
    /// it when this layer did not write there, otherwise the lower content of the
    /// directory this layer merged into.
    private mutating func removeLowerContent(_ dirFd: Int32, _ child: [UInt8], key: [UInt8], name: String) throws(FascoError) {
        guard layerPaths.contains(key) else {
            try removeTree(dirFd, child, name: name)
            return
        }
        guard let info = UnpackSys.lstatat(dirFd, child).info, info.st_mode & 0o170000 == Self.typeDirectory else { return }
        let opened = UnpackSys.openat(dirFd, child, flags: UnpackSys.pathOnly | O_DIRECTORY | O_NOFOLLOW)
        guard opened.fd >= 0 else { throw .unpack("layer entry \"\(name)\": cannot open \(LayerPath.display(key))", errno: opened.errno) }
        defer { close(opened.fd) }
        let listing = UnpackSys.listDirectory(opened.fd)
        guard listing.errno == 0 else {
            throw .unpack("layer entry \"\(name)\": cannot list \(LayerPath.display(key))", errno: listing.errno)
        }
        for grandchild in listing.names {
            try removeLowerContent(opened.fd, grandchild, key: LayerPath.child(key, grandchild), name: name)
        }
    }

    private mutating func markInLayer(_ path: [UInt8]) {
        var key = path
        while layerPaths.insert(key).inserted {
            guard let slash = key.lastIndex(of: LayerPath.slash) else { return }
            key = Array(key[..<slash])
        }
    }

    // MARK: removal

    /// Runs `create` (returning 0 or an errno); when the name is taken, removes
    /// what is there (a whole tree for a directory) and runs it once more.
    private mutating func createReplacing(
        _ parent: Int32, _ leaf: [UInt8], name: String, what: String, _ create: () -> Int32
    ) throws(FascoError) {
        var code = create()
        if code == EEXIST {
            try removeTree(parent, leaf, name: name)
            code = create()
        }
        guard code == 0 else { throw .unpack("layer entry \"\(name)\": cannot create \(what)", errno: code) }
    }

    /// Removes `leaf` in `parent` and, for a directory, everything below it, without following symlinks.
    private mutating func removeTree(_ parent: Int32, _ leaf: [UInt8], name: String) throws(FascoError) {
        // Any cached directory might be at or below what goes away.
        invalidateParentCache()
        try Self.removeTreeNoCache(parent, leaf, name: name)
    }

    private static func removeTreeNoCache(_ parent: Int32, _ leaf: [UInt8], name: String) throws(FascoError) {
        let code = UnpackSys.unlinkat(parent, leaf, flags: 0)
        if code == 0 || code == ENOENT { return }
        guard code == EISDIR else {
            throw .unpack("layer entry \"\(name)\": cannot remove \"\(LayerPath.display(leaf))\"", errno: code)
        }
        let opened = UnpackSys.openat(parent, leaf, flags: UnpackSys.pathOnly | O_DIRECTORY | O_NOFOLLOW)
        guard opened.fd >= 0 else {
            throw .unpack("layer entry \"\(name)\": cannot open \"\(LayerPath.display(leaf))\" to remove it", errno: opened.errno)
        }
        let listing = UnpackSys.listDirectory(opened.fd)
        guard listing.errno == 0 else {
            close(opened.fd)
            throw .unpack("layer entry \"\(name)\": cannot list \"\(LayerPath.display(leaf))\" to remove it", errno: listing.errno)
        }
        for child in listing.names {
            do {
                try removeTreeNoCache(opened.fd, child, name: name)
            } catch {
                close(opened.fd)
                throw error
            }
        }
        close(opened.fd)
        let rmdirCode = UnpackSys.unlinkat(parent, leaf, flags: AT_REMOVEDIR)
        guard rmdirCode == 0 || rmdirCode == ENOENT else {
            throw .unpack("layer entry \"\(name)\": cannot remove the directory \"\(LayerPath.display(leaf))\"", errno: rmdirCode)
        }
    }

    // MARK: directories inside the root

    /// The entry's parent directory, created (mode 0755) where missing; borrowed: it
    /// stays valid until the next call.
    private mutating func parentDirectory(_ path: ArraySlice<[UInt8]>, name: String) throws(FascoError) -> Int32 {
        let key = LayerPath.join(path)
        if cachedParentFd >= 0 && cachedParentKey == key { return cachedParentFd }
        if cachedParentFd >= 0 {
            close(cachedParentFd)
            cachedParentFd = -1
        }
        var hops = 0
        let fd = try openDirectory(path, create: true, hops: &hops, name: name)
        cachedParentFd = fd
        cachedParentKey = key
        return fd
    }

    private mutating func invalidateParentCache() {
        // The descriptor may still be in use by the entry being applied (as its
        // parent, which removing a child of it does not invalidate), so it is
        // closed on the next lookup, not now.
        cachedParentKey = [0]  // no real key contains a NUL byte
    }

    /// The directory at `path`, or nil when it (or a component) does not exist.
    private func openExistingDirectory(_ path: [[UInt8]], name: String) throws(FascoError) -> Int32? {
        let opened = UnpackSys.openat2(rootFd, path.isEmpty ? LayerPath.dot : LayerPath.join(path),
                                       flags: UnpackSys.pathOnly | O_DIRECTORY, resolve: UnpackSys.resolveInRoot | UnpackSys.resolveNoMagicLinks)
        if opened.fd >= 0 { return opened.fd }
        if opened.errno == ENOENT || opened.errno == ENOTDIR { return nil }
        throw .unpack("layer entry \"\(name)\": cannot open \"\(LayerPath.display(LayerPath.join(path)))\" inside the root", errno: opened.errno)
    }

    /// Opens the directory `path` (O_PATH, owned by the caller) resolving it inside
    /// the root; with `create`, missing directories are made on the way, including
    /// the target of a dangling symlink (where RESOLVE_IN_ROOT would lead).
    private func openDirectory(_ path: ArraySlice<[UInt8]>, create: Bool, hops: inout Int, name: String) throws(FascoError) -> Int32 {
        let joined = path.isEmpty ? LayerPath.dot : LayerPath.join(path)
        let flags = UnpackSys.pathOnly | O_DIRECTORY
        let resolve = UnpackSys.resolveInRoot | UnpackSys.resolveNoMagicLinks
        let first = UnpackSys.openat2(rootFd, joined, flags: flags, resolve: resolve)
        if first.fd >= 0 { return first.fd }
        guard first.errno == ENOENT, create, let leaf = path.last else {
            if first.errno == ENOSYS {
                throw .failedPrecondition("openat2(2) is not available (Linux 5.6 or later is required to unpack layers safely)")
            }
            throw .unpack("layer entry \"\(name)\": cannot open the directory \"\(LayerPath.display(joined))\" inside the root",
                          errno: first.errno)
        }
        let parent = try openDirectory(path.dropLast(), create: true, hops: &hops, name: name)
        defer { close(parent) }
        let code = UnpackSys.mkdirat(parent, leaf, mode: 0o755)
        if code == 0 {
            // mkdirat applies the umask.
            _ = UnpackSys.fchmodat(parent, leaf, mode: 0o755)
        } else if code == EEXIST {
            // The name exists yet did not resolve: a symlink whose target is missing.
            let link = UnpackSys.readlinkat(parent, leaf)
            guard let target = link.target else {
                throw .unpack("layer entry \"\(name)\": \"\(LayerPath.display(joined))\" is not a directory", errno: ENOTDIR)
            }
            hops += 1
            guard hops <= 40 else {
                throw .unpack("layer entry \"\(name)\": cannot resolve \"\(LayerPath.display(joined))\"", errno: ELOOP)
            }
            let base = inRootPath(of: parent) ?? Array(path.dropLast())
            let resolved = LayerPath.resolveInRoot(base: base, target: target)
            close(try openDirectory(resolved[...], create: true, hops: &hops, name: name))
        } else {
            throw .unpack("layer entry \"\(name)\": cannot create the directory \"\(LayerPath.display(joined))\"", errno: code)
        }
        let second = UnpackSys.openat2(rootFd, joined, flags: flags, resolve: resolve)
        guard second.fd >= 0 else {
            throw .unpack("layer entry \"\(name)\": cannot open the directory \"\(LayerPath.display(joined))\" inside the root",
                          errno: second.errno)
        }
        return second.fd
    }

    /// Where the directory `fd` is, relative to the root (from /proc/self/fd).
    private func inRootPath(of fd: Int32) -> [[UInt8]]? {
        guard let rootRealPath, let real = UnpackSys.readlink(Array("/proc/self/fd/\(fd)".utf8)) else { return nil }
        if real == rootRealPath { return [] }
        let prefix = rootRealPath == [LayerPath.slash] ? rootRealPath : rootRealPath + [LayerPath.slash]
        guard real.starts(with: prefix) else { return nil }
        return LayerPath.normalize(Array(real.dropFirst(prefix.count)))
    }

    // MARK: metadata

    private func setOwner(_ entry: OpaquePointer, parent: Int32, leaf: [UInt8], name: String) throws(FascoError) {
        guard preserveOwnership else { return }
        let (uid, gid) = try Self.owner(entry, name: name)
        let code = UnpackSys.lchownat(parent, leaf, uid: uid, gid: gid)
        guard code == 0 else { throw .unpack("layer entry \"\(name)\": cannot change its owner", errno: code) }
    }

    private func setTimes(_ entry: OpaquePointer, parent: Int32, leaf: [UInt8], name: String) throws(FascoError) {
        guard let times = Self.times(entry) else { return }
        let code = UnpackSys.lutimensat(parent, leaf, times)
        guard code == 0 else { throw .unpack("layer entry \"\(name)\": cannot set its times", errno: code) }
    }

    private static func owner(_ entry: OpaquePointer, name: String) throws(FascoError) -> (uid_t, gid_t) {
        let uid = archive_entry_uid(entry)
        let gid = archive_entry_gid(entry)
        // (uid_t)-1 means "unchanged" to chown, so it is not a valid owner either.
        guard uid >= 0, uid < Int64(UInt32.max), gid >= 0, gid < Int64(UInt32.max) else {
            throw .invalidArgument("layer entry \"\(name)\" has an invalid owner \(uid):\(gid)")
        }
        return (uid_t(uid), gid_t(gid))
    }

    /// (atime, mtime); atime falls back to mtime. Nil when the entry carries no mtime.
    private static func times(_ entry: OpaquePointer) -> (timespec, timespec)? {
        guard archive_entry_mtime_is_set(entry) != 0 else { return nil }
        let mtime = timespec(tv_sec: time_t(archive_entry_mtime(entry)), tv_nsec: Int(archive_entry_mtime_nsec(entry)))
        let atime = archive_entry_atime_is_set(entry) != 0
            ? timespec(tv_sec: time_t(archive_entry_atime(entry)), tv_nsec: Int(archive_entry_atime_nsec(entry)))
            : mtime
        return (atime, mtime)
    }

    /// Sets the deferred directory modes and times; call after the last entry.
    mutating func finish() throws(FascoError) {
        invalidateParentCache()
        for directory in directories {
            let fd: Int32
            if let leaf = directory.path.last {
                guard let parent = try openExistingDirectory(Array(directory.path.dropLast()), name: "") else { continue }
                let opened = UnpackSys.openat(parent, leaf, flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
                close(parent)
                // Replaced by a later entry of this layer: nothing to do.
                guard opened.fd >= 0 else { continue }
                fd = opened.fd
            } else {
                let opened = UnpackSys.openat(rootFd, LayerPath.dot, flags: O_RDONLY | O_DIRECTORY)
                guard opened.fd >= 0 else { throw .unpack("cannot open unpack root \(rootPath)", errno: opened.errno) }
                fd = opened.fd
            }
            defer { close(fd) }
            let display = directory.path.isEmpty ? "." : LayerPath.display(LayerPath.join(directory.path))
            guard fchmod(fd, directory.mode) == 0 else {
                throw .unpack("layer entry \"\(display)\": cannot change its mode", errno: errno)
            }
            if let times = directory.times {
                let code = UnpackSys.futimens(fd, times)
                guard code == 0 else { throw .unpack("layer entry \"\(display)\": cannot set its times", errno: code) }
            }
        }
        directories = []
    }

    // MARK: extended attributes

    enum XattrTarget {
        /// An open regular file.
        case descriptor(Int32, regular: Bool)
        /// A directory, opened read-only (O_NOFOLLOW) for fsetxattr.
        case directory(parent: Int32, leaf: [UInt8])
        /// A symlink, device or FIFO: lsetxattr on /proc/self/fd/<parent>/<leaf>.
        case entry(parent: Int32, leaf: [UInt8])
    }

    /// Applies the entry's extended attributes (PAX SCHILY.xattr.* / LIBARCHIVE.xattr.*).
    ///
    /// A failure is ignored when the filesystem has no support for the attribute
    /// (ENOTSUP), when a `security.*` attribute is refused (its meaning belongs to
    /// the host's LSM and capabilities: SELinux labels, file capabilities), when a
    /// `trusted.*` attribute is refused for lack of CAP_SYS_ADMIN, and when a
    /// `user.*` attribute is refused on a symlink or special file (Linux allows
    /// user attributes only on regular files and directories). Any other failure
    /// is an error naming the entry and the attribute.
    private func applyXattrs(_ entry: OpaquePointer, target: XattrTarget, name: String) throws(FascoError) {
        guard archive_entry_xattr_reset(entry) > 0 else { return }
        var attributes: [(name: [UInt8], value: [UInt8])] = []
        var attributeName: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while archive_entry_xattr_next(entry, &attributeName, &value, &size) == ARCHIVE_OK {
            guard let key = Self.bytes(attributeName), !key.isEmpty else { continue }
            let bytes: [UInt8] = if let value, size > 0 { Array(UnsafeRawBufferPointer(start: value, count: size)) } else { [] }
            attributes.append((key, bytes))
        }
        if attributes.isEmpty { return }

        var fd: Int32 = -1
        var ownsFd = false
        var procPath: [UInt8] = []
        var regularOrDirectory = true
        switch target {
        case .descriptor(let descriptor, let regular):
            fd = descriptor
            regularOrDirectory = regular
        case .directory(let parent, let leaf):
            let opened = UnpackSys.openat(parent, leaf, flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
            guard opened.fd >= 0 else {
                throw .unpack("layer entry \"\(name)\": cannot open the directory to set extended attributes", errno: opened.errno)
            }
            fd = opened.fd
            ownsFd = true
        case .entry(let parent, let leaf):
            // The parent is pinned by its descriptor and lsetxattr does not follow the leaf.
            procPath = Array("/proc/self/fd/\(parent)/".utf8) + leaf
            regularOrDirectory = false
        }
        defer { if ownsFd { close(fd) } }

        for attribute in attributes {
            let code = fd >= 0
                ? UnpackSys.fsetxattr(fd, attribute.name, attribute.value)
                : UnpackSys.lsetxattr(procPath, attribute.name, attribute.value)
            if code == 0 || Self.ignorable(xattr: attribute.name, errno: code, regularOrDirectory: regularOrDirectory) { continue }
            throw .unpack("layer entry \"\(name)\": cannot set the extended attribute \(LayerPath.display(attribute.name))",
                          errno: code)
        }
    }

    private static func ignorable(xattr: [UInt8], errno code: Int32, regularOrDirectory: Bool) -> Bool {
        if code == ENOTSUP || code == EOPNOTSUPP { return true }
        let refused = code == EPERM || code == EACCES
        if xattr.starts(with: Array("security.".utf8)) { return refused || code == EINVAL }
        if xattr.starts(with: Array("trusted.".utf8)) { return refused }
        if xattr.starts(with: Array("user.".utf8)) { return refused && !regularOrDirectory }
        return false
    }

    // MARK: helpers

    static func bytes(_ pointer: UnsafePointer<CChar>?) -> [UInt8]? {
        guard let pointer else { return nil }
        let count = strlen(pointer)
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }
}

/// libarchive error reporting.
enum UnpackArchive {
    /// The source's own error (decompression, I/O) when there is one, else libarchive's message.
    static func error(_ archive: OpaquePointer, source: LayerSource, context: String) -> FascoError {
        if let failure = source.failure { return failure }
        let detail = archive_error_string(archive).map { String(cString: $0) } ?? "unknown libarchive error"
        return .invalidArgument("\(context): layer blob \(source.blobPath) is not a valid tar archive: \(detail)")
    }
}
