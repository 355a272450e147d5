import FascoCore
import FoundationEssentials
import OCISpec
import RealmCore

/// A seccomp profile file as kubelet's `localhost/` profiles are written: Docker's format (the
/// OCI `linux.seccomp` object plus `archMap`, per-rule `name`, and `includes`/`excludes` on
/// capabilities, architectures and kernel versions), which is a superset of the plain OCI form.
struct SeccompProfileFile: Decodable, Sendable {
    var defaultAction: String
    var defaultErrnoRet: UInt?
    var architectures: [String]?
    var archMap: [ArchitectureMap]?
    var syscalls: [Rule]?
    var flags: [String]?
    var listenerPath: String?
    var listenerMetadata: String?

    struct ArchitectureMap: Decodable, Sendable {
        var architecture: String
        var subArchitectures: [String]?
    }

    struct Rule: Decodable, Sendable {
        var name: String?
        var names: [String]?
        var action: String
        var errnoRet: UInt?
        var args: [Argument]?
        var includes: Filter?
        var excludes: Filter?
    }

    struct Argument: Decodable, Sendable {
        var index: UInt
        var value: UInt64
        var valueTwo: UInt64?
        var op: String
    }

    /// Docker's `includes`/`excludes`: capability names, Go architecture names (`amd64`,
    /// `arm64`, …) and a minimum kernel version (`5.8`).
    struct Filter: Decodable, Sendable {
        var caps: [String]?
        var arches: [String]?
        var minKernel: String?
    }

    /// Reads (from `files`) and converts the profile at `path` (absolute). A missing file is FAILED_PRECONDITION;
    /// invalid JSON or unknown actions, operators or architectures are INVALID_ARGUMENT.
    static func load(_ path: String, capabilities: [String], kernel: (major: Int, minor: Int),
                     files: any HostFiles) throws(FascoError) -> RuntimeSpec.Linux.Seccomp {
        guard path.hasPrefix("/") else { throw .invalidArgument("seccomp profile path \(path.debugDescription) is not absolute") }
        guard let bytes = try files.read(path, limit: 8 << 20) else {
            throw .failedPrecondition("seccomp profile \(path) does not exist")
        }
        let file: SeccompProfileFile
        do {
            file = try JSONDecoder().decode(SeccompProfileFile.self, from: Data(bytes))
        } catch {
            throw FascoError(.invalidArgument, "seccomp profile \(path) is not valid", cause: error)
        }
        return try file.convert(capabilities: Set(capabilities), kernel: kernel, source: path)
    }

    func convert(capabilities: Set<String>, kernel: (major: Int, minor: Int), source: String) throws(FascoError) -> RuntimeSpec.Linux.Seccomp {
        typealias Seccomp = RuntimeSpec.Linux.Seccomp
        let nativeArch = Self.nativeArchitecture
        var architectures: [Seccomp.Arch] = []
        if let archMap {
            guard (self.architectures ?? []).isEmpty else {
                throw .invalidArgument("seccomp profile \(source) has both architectures and archMap")
            }
            for entry in archMap where entry.architecture == nativeArch.seccomp {
                architectures = ([entry.architecture] + (entry.subArchitectures ?? [])).map(Seccomp.Arch.init(rawValue:))
            }
        } else {
            architectures = (self.architectures ?? []).map(Seccomp.Arch.init(rawValue:))
        }
        for arch in architectures where !arch.rawValue.hasPrefix("SCMP_ARCH_") {
            throw .invalidArgument("seccomp profile \(source): unknown architecture \(arch.rawValue)")
        }

        var rules: [Seccomp.Syscall] = []
        for rule in syscalls ?? [] {
            if let includes = rule.includes, !Self.matches(includes, all: true, capabilities, nativeArch.go, kernel) { continue }
            if let excludes = rule.excludes, Self.matches(excludes, all: false, capabilities, nativeArch.go, kernel) { continue }
            let names = (rule.names ?? []) + (rule.name.map { [$0] } ?? [])
            guard !names.isEmpty, !names.contains(where: \.isEmpty) else {
                throw .invalidArgument("seccomp profile \(source): a rule has no system call names")
            }
            var arguments: [Seccomp.Arg] = []
            for argument in rule.args ?? [] {
                guard argument.index < 6 else {
                    throw .invalidArgument("seccomp profile \(source): argument index \(argument.index) is out of range")
                }
                arguments.append(.init(index: argument.index, value: argument.value, valueTwo: argument.valueTwo,
                                       op: try Self.operator(argument.op, source)))
            }
            rules.append(.init(names: names, action: try Self.action(rule.action, source), errnoRet: rule.errnoRet,
                               args: arguments.isEmpty ? nil : arguments))
        }
        return Seccomp(defaultAction: try Self.action(defaultAction, source), defaultErrnoRet: defaultErrnoRet,
                       architectures: architectures.isEmpty ? nil : architectures,
                       flags: flags.map { $0.map(Seccomp.Flag.init(rawValue:)) },
                       listenerPath: listenerPath, listenerMetadata: listenerMetadata,
                       syscalls: rules.isEmpty ? nil : rules)
    }

    /// `includes` (all must hold) or `excludes` (any holds).
    static func matches(_ filter: Filter, all: Bool, _ capabilities: Set<String>, _ arch: String, _ kernel: (major: Int, minor: Int)) -> Bool {
        var checks: [Bool] = []
        if let caps = filter.caps, !caps.isEmpty {
            let held = caps.map { capabilities.contains($0.uppercased().hasPrefix("CAP_") ? $0.uppercased() : "CAP_" + $0.uppercased()) }
            checks.append(all ? !held.contains(false) : held.contains(true))
        }
        if let arches = filter.arches, !arches.isEmpty {
            checks.append(arches.contains(arch))
        }
        if let minimum = filter.minKernel, let version = kernelVersion(minimum) {
            checks.append(kernel.major > version.major || (kernel.major == version.major && kernel.minor >= version.minor))
        }
        return all ? !checks.contains(false) : checks.contains(true)
    }

    static func action(_ name: String, _ source: String) throws(FascoError) -> RuntimeSpec.Linux.Seccomp.Action {
        let known: [RuntimeSpec.Linux.Seccomp.Action] = [.kill, .killProcess, .killThread, .trap, .errno, .trace, .allow, .log, .notify]
        guard let action = known.first(where: { $0.rawValue == name }) else {
            throw .invalidArgument("seccomp profile \(source): unknown action \(name.debugDescription)")
        }
        return action
    }

    static func `operator`(_ name: String, _ source: String) throws(FascoError) -> RuntimeSpec.Linux.Seccomp.Operator {
        let known: [RuntimeSpec.Linux.Seccomp.Operator] = [.notEqual, .lessThan, .lessEqual, .equalTo, .greaterEqual, .greaterThan, .maskedEqual]
        guard let op = known.first(where: { $0.rawValue == name }) else {
            throw .invalidArgument("seccomp profile \(source): unknown operator \(name.debugDescription)")
        }
        return op
    }

    /// `major.minor[.patch][-suffix]`.
    static func kernelVersion(_ text: String) -> (major: Int, minor: Int)? {
        let numbers = text.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        guard numbers.count == 2 else { return nil }
        return (numbers[0], numbers[1])
    }

    /// The native architecture in libseccomp's and Go's naming.
    static var nativeArchitecture: (seccomp: String, go: String) {
        #if arch(x86_64)
        return ("SCMP_ARCH_X86_64", "amd64")
        #elseif arch(arm64)
        return ("SCMP_ARCH_AARCH64", "arm64")
        #elseif arch(s390x)
        return ("SCMP_ARCH_S390X", "s390x")
        #elseif arch(powerpc64le)
        return ("SCMP_ARCH_PPC64LE", "ppc64le")
        #else
        return ("", "")
        #endif
    }
}
