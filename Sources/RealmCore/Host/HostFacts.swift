import FascoCore
import OCISpec
#if canImport(Glibc)
import Glibc
#endif

/// What a container spec needs to know of the host it will run on, as one value passed into the
/// translation (which so looks at the host through nothing else, as youki keeps spec
/// translation apart from its syscalls): the daemon's capabilities, the host's name, the
/// kernel's release, and `files`, through which it looks at the host paths a request names.
/// `current()` reads this machine; tests make their own.
public struct HostFacts: Sendable {
    /// The capabilities a runtime can grant: the daemon's own effective set, by name (`CAP_*`),
    /// which is what "privileged" and `add_capabilities: ["ALL"]` give, as containerd's
    /// WithAllCurrentCapabilities does (this host withholds CAP_SYS_RESOURCE even from root).
    public var capabilities: [String]
    /// The host's name (gethostname(2)), for a pod without a hostname of its own.
    public var hostname: String
    /// The running kernel's release (uname(2): "6.1.0-18-amd64"), for seccomp profiles that
    /// name a minimum kernel.
    public var kernelRelease: String
    public var files: any HostFiles

    public init(capabilities: [String], hostname: String, kernelRelease: String, files: any HostFiles = LocalHostFiles()) {
        self.capabilities = capabilities
        self.hostname = hostname
        self.kernelRelease = kernelRelease
        self.files = files
    }

    /// This machine, as this process sees it.
    public static func current() -> HostFacts {
        HostFacts(capabilities: effectiveCapabilities(), hostname: systemHostname(), kernelRelease: systemKernelRelease())
    }

    /// This process's effective capabilities (`CapEff` in /proc/self/status), by name; every
    /// known capability when the file cannot be read.
    public static func effectiveCapabilities() -> [String] {
        ProcFS.read("status").flatMap(capabilities(status:)) ?? RuntimeSpec.Process.Capabilities.allKnownNames
    }

    /// The capabilities of a `status` text's `CapEff` line (a hex mask, bit N for capability N),
    /// by name, in the order of `allKnownNames`; bits of capabilities this build does not know
    /// are left out. Nil without a readable `CapEff` line.
    public static func capabilities(status: String) -> [String]? {
        guard let hex = ProcFS.field("CapEff", status: status), let mask = UInt64(hex, radix: 16) else { return nil }
        return RuntimeSpec.Process.Capabilities.allKnownNames.enumerated()
            .filter { $0.offset < 64 && mask & (UInt64(1) << UInt64($0.offset)) != 0 }.map(\.element)
    }

    /// gethostname(2); "localhost" when it fails.
    public static func systemHostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// uname(2)'s release; "" when it fails.
    public static func systemKernelRelease() -> String {
        var names = utsname()
        guard uname(&names) == 0 else { return "" }
        return withUnsafeBytes(of: names.release) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
