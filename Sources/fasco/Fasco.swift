import ArgumentParser
import CRIAPI
import CRIServer
import FoundationEssentials
import FascoDaemon
import GRPCTransport
import Logging
#if canImport(Glibc)
import Glibc
#endif

@main
struct Fasco: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fasco",
        abstract: "A Kubernetes container runtime (CRI v1) that runs every pod as a System Realm.",
        version: FascoVersion.current,
        subcommands: [Serve.self, Info.self, ImageCommand.self, Attest.self, Measure.self, Demo.self, VersionCommand.self])
}

/// The node's directories and configuration file, as `fasco serve` and `fasco measure` take them.
struct NodeOptions: ParsableArguments {
    @Option(help: "Directory for persistent state (default /var/lib/fasco).")
    var root: String?

    @Option(help: "Directory for runtime state (default /run/fasco).")
    var state: String?

    @Option(help: "Configuration file (default /etc/fasco/fasco.toml, used when it exists).")
    var config: String?

    /// The configuration file's settings with --root and --state applied.
    func load() throws -> FascoConfig {
        var settings = try FascoConfig.load(path: config)
        if let root { settings.root = root }
        if let state { settings.state = state }
        return settings
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the CRI RuntimeService and ImageService.")

    @Option(help: "Endpoint to listen on (default unix:///run/fasco/fasco.sock).")
    var listen: String?

    @OptionGroup var node: NodeOptions

    @Option(help: "trace, debug, info, notice, warning, error or critical (default info).")
    var logLevel: String?

    func run() async throws {
        var settings: FascoConfig
        do {
            settings = try node.load()
            if let listen { settings.grpc.listen = listen }
            if let logLevel { settings.logLevel = logLevel }
            try settings.validate()
        } catch {
            throw ValidationError("configuration: \(error)")
        }
        let level = Logger.Level(rawValue: settings.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "fasco")
        do {
            try await Daemon.serve(config: settings, logger: logger)
        } catch {
            logger.critical("cannot serve", metadata: ["error": "\(error)"])
            throw ExitCode.failure
        }
    }
}

struct Info: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask a running Fasco (or any CRI runtime) for its version and status.")

    @Option(help: "CRI endpoint to ask.")
    var endpoint = "unix:///run/fasco/fasco.sock"

    @Option(help: "Seconds to wait for an answer.")
    var timeout = 5.0

    func run() async throws {
        let channel = GRPCChannel(target: endpoint)
        defer { channel.close() }
        let client = RuntimeServiceClient(channel: channel)
        let wait = Duration.milliseconds(Int64(timeout * 1000))
        do {
            let version = try await client.version(VersionRequest(version: "v1"), timeout: wait)
            print("runtime:      \(version.runtimeName) \(version.runtimeVersion) (CRI \(version.runtimeAPIVersion))")
            let status = try await client.status(StatusRequest(verbose: true), timeout: wait)
            for condition in status.status?.conditions ?? [] {
                let detail = condition.status ? "" : " (\(condition.reason): \(condition.message))"
                print("\(condition.type + ":", privatePadding: 14)\(condition.status)\(detail)")
            }
            print("handlers:     \(status.runtimeHandlers.map { $0.name.isEmpty ? "(default)" : $0.name }.joined(separator: ", "))")
            for key in status.info.keys.sorted() {
                print("\(key + ":", privatePadding: 14)\(status.info[key] ?? "")")
            }
        } catch {
            print("fasco info: \(endpoint): \(error)")
            throw ExitCode.failure
        }
    }
}

struct ImageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image", abstract: "Manage images of a running Fasco.", subcommands: [ImportImage.self])
}

struct ImportImage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import an OCI image layout directory, or an OCI or Docker archive, without a registry.")

    @Argument(help: "Path of the layout directory or archive (on this node).")
    var path: String

    @Option(help: "Name for images the layout or archive does not name (or the repository for a bare tag).")
    var name: String?

    @Option(help: "CRI endpoint of the Fasco daemon.")
    var endpoint = "unix:///run/fasco/fasco.sock"

    func run() async throws {
        let absolute = path.hasPrefix("/") ? path : currentDirectory() + "/" + path
        let request = AdminService.ImportRequest(path: absolute, name: name)
        let channel = GRPCChannel(target: endpoint)
        defer { channel.close() }
        do {
            let bytes = try await channel.unary(AdminService.importPath, request: Array(try JSONEncoder().encode(request)))
            let response = try JSONDecoder().decode(AdminService.ImportResponse.self, from: Data(bytes))
            for image in response.images {
                let names = image.repoTags.isEmpty ? image.repoDigests : image.repoTags
                print("\(image.id)  \(names.joined(separator: " "))")
            }
        } catch {
            print("fasco image import: \(error)")
            throw ExitCode.failure
        }
    }

    private func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        return getcwd(&buffer, buffer.count).map { String(cString: $0) } ?? "."
    }
}

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print Fasco's version.")

    func run() {
        print("fasco \(FascoVersion.current) (CRI v1, backend: software)")
    }
}

extension String.StringInterpolation {
    /// Left-aligns `value` in a column of `width` characters.
    mutating func appendInterpolation(_ value: String, privatePadding width: Int) {
        appendLiteral(value + String(repeating: " ", count: max(1, width - value.count)))
    }
}
