/// OCI runtime-spec config.md: the container configuration, `config.json` in a bundle
/// (Go: `specs.Spec`).
///
/// Models the parts a Linux runtime (runc, crun) reads: runtime-spec v1.0 through v1.3. The
/// `solaris`, `windows`, `vm`, `zos` and `freebsd` platform objects are not modelled; like any other
/// unknown member they are ignored when decoding (and so not re-encoded).
public struct RuntimeSpec: Codable, Sendable, Equatable {
    /// config.md "Specification version": the runtime-spec version the bundle complies with (SemVer).
    public var ociVersion: String
    /// config.md "Process". Required by `start`; optional in `config.json` itself.
    public var process: Process?
    /// config.md "Root".
    public var root: Root?
    /// config.md "Hostname": the hostname as seen by processes in the container (needs a UTS namespace).
    public var hostname: String?
    /// config.md "Domainname": the NIS domain name (needs a UTS namespace).
    public var domainname: String?
    /// config.md "Mounts": additional mounts beyond `root`, in order.
    public var mounts: [Mount]?
    /// config.md "POSIX-platform Hooks".
    public var hooks: Hooks?
    /// config.md "Annotations": arbitrary metadata (reverse-domain keys).
    public var annotations: [String: String]?
    /// config-linux.md: the Linux platform configuration.
    public var linux: Linux?

    public init(
        ociVersion: String,
        process: Process? = nil,
        root: Root? = nil,
        hostname: String? = nil,
        domainname: String? = nil,
        mounts: [Mount]? = nil,
        hooks: Hooks? = nil,
        annotations: [String: String]? = nil,
        linux: Linux? = nil
    ) {
        self.ociVersion = ociVersion
        self.process = process
        self.root = root
        self.hostname = hostname
        self.domainname = domainname
        self.mounts = mounts
        self.hooks = hooks
        self.annotations = annotations
        self.linux = linux
    }

    /// config.md "Root": the container's root filesystem.
    public struct Root: Codable, Sendable, Equatable {
        /// The path to the root filesystem, absolute or relative to the bundle.
        public var path: String
        /// Whether the root filesystem is made read-only inside the container (default false).
        public var readonly: Bool?

        public init(path: String, readonly: Bool? = nil) {
            self.path = path
            self.readonly = readonly
        }
    }

    /// config.md "Mounts": one mount, performed in the order listed.
    public struct Mount: Codable, Sendable, Equatable {
        /// The absolute path of the mount point inside the container.
        public var destination: String
        /// The filesystem type (`proc`, `tmpfs`, `bind`, …; see /proc/filesystems).
        public var type: String?
        /// A device name, directory (for bind mounts) or dummy string.
        public var source: String?
        /// fstab-style mount options (`nosuid`, `rbind`, `ro`, `mode=755`, …).
        public var options: [String]?
        /// config.md "uidMappings" of an idmapped mount (Linux); requires `gidMappings` too.
        public var uidMappings: [IDMapping]?
        /// config.md "gidMappings" of an idmapped mount (Linux); requires `uidMappings` too.
        public var gidMappings: [IDMapping]?

        public init(
            destination: String,
            type: String? = nil,
            source: String? = nil,
            options: [String]? = nil,
            uidMappings: [IDMapping]? = nil,
            gidMappings: [IDMapping]? = nil
        ) {
            self.destination = destination
            self.type = type
            self.source = source
            self.options = options
            self.uidMappings = uidMappings
            self.gidMappings = gidMappings
        }
    }

    /// config-linux.md "User namespace mappings" (Go: `LinuxIDMapping`): a range of `size` IDs
    /// starting at `containerID` in the container, mapped to `hostID` on the host. Used by
    /// `linux.uidMappings`/`gidMappings` and by idmapped mounts.
    public struct IDMapping: Codable, Sendable, Equatable, Hashable {
        public var containerID: UInt32
        public var hostID: UInt32
        public var size: UInt32

        public init(containerID: UInt32, hostID: UInt32, size: UInt32) {
            self.containerID = containerID
            self.hostID = hostID
            self.size = size
        }
    }

    /// config.md "POSIX-platform Hooks": commands run at points of the container lifecycle
    /// (runtime.md "Lifecycle"). Each array runs in order.
    public struct Hooks: Codable, Sendable, Equatable {
        /// Deprecated by the spec in favour of `createRuntime`, `createContainer` and `startContainer`.
        /// Runtime namespace; during `create`, after the environment is created, before pivot_root and
        /// before `createRuntime`.
        public var prestart: [Hook]?
        /// Runtime namespace; during `create`, after the environment is created, before pivot_root.
        public var createRuntime: [Hook]?
        /// Container namespace (path resolved in the runtime namespace); during `create`, after
        /// `createRuntime`, before pivot_root.
        public var createContainer: [Hook]?
        /// Container namespace; during `start`, before the user-specified program is executed.
        public var startContainer: [Hook]?
        /// Runtime namespace; after the user-specified program is executed, before `start` returns.
        public var poststart: [Hook]?
        /// Runtime namespace; after the container is deleted, before `delete` returns. Failures are
        /// only warnings.
        public var poststop: [Hook]?

        public init(
            prestart: [Hook]? = nil,
            createRuntime: [Hook]? = nil,
            createContainer: [Hook]? = nil,
            startContainer: [Hook]? = nil,
            poststart: [Hook]? = nil,
            poststop: [Hook]? = nil
        ) {
            self.prestart = prestart
            self.createRuntime = createRuntime
            self.createContainer = createContainer
            self.startContainer = startContainer
            self.poststart = poststart
            self.poststop = poststop
        }
    }

    /// config.md "POSIX-platform Hooks": one hook command. It receives the container's state
    /// (runtime.md "State") on stdin.
    public struct Hook: Codable, Sendable, Equatable {
        /// The absolute path of the executable (resolved in the runtime namespace, except for
        /// `startContainer` hooks).
        public var path: String
        /// argv, including argv[0].
        public var args: [String]?
        /// Environment, `KEY=value`.
        public var env: [String]?
        /// Seconds before the hook is aborted; must be greater than zero.
        public var timeout: Int?

        public init(path: String, args: [String]? = nil, env: [String]? = nil, timeout: Int? = nil) {
            self.path = path
            self.args = args
            self.env = env
            self.timeout = timeout
        }
    }
}
