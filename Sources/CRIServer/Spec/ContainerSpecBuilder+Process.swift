import CRIAPI
import FascoCore
import OCISpec

extension ContainerSpecBuilder {
    /// The PATH a container gets when neither the image nor the CRI config sets one.
    public static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// argv with containerd's (Docker's) override rules: a CRI `command` replaces the image's
    /// Entrypoint and Cmd, followed by the CRI `args`; without a `command`, the image's Entrypoint
    /// is followed by the CRI `args`, or by the image's Cmd when `args` is empty too. Nothing to
    /// run is INVALID_ARGUMENT.
    static func processArguments(_ config: ContainerConfig, image: ImageConfiguration.Config?) throws(FascoError) -> [String] {
        var command = config.command
        var args = config.args
        if command.isEmpty {
            if args.isEmpty { args = image?.cmd ?? [] }
            let entrypoint = image?.entrypoint ?? []
            // Docker writes `--entrypoint ""` as [""]: no entrypoint.
            if entrypoint != [""] { command = entrypoint }
        }
        let argv = command + args
        guard let first = argv.first, !first.isEmpty else {
            throw .invalidArgument("no command specified: the container config and the image give nothing to run")
        }
        for argument in argv where argument.utf8.contains(0) {
            throw .invalidArgument("argument \(argument.debugDescription) contains a NUL byte")
        }
        return argv
    }

    /// The environment: PATH (default), HOSTNAME, then the image's `Env`, then the CRI `envs`;
    /// a later entry replaces an earlier one with the same name, in its place.
    static func environment(_ config: ContainerConfig, image: ImageConfiguration.Config?, hostname: String) throws(FascoError) -> [String] {
        var environment: [String] = []
        func set(_ entry: String) {
            let name = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0]
            if let index = environment.firstIndex(where: {
                $0.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0] == name
            }) {
                environment[index] = entry
            } else {
                environment.append(entry)
            }
        }
        set("PATH=" + defaultPath)
        set("HOSTNAME=" + hostname)
        for entry in image?.env ?? [] where !entry.isEmpty && !entry.utf8.contains(0) {
            set(entry)
        }
        for variable in config.envs {
            guard !variable.key.isEmpty, !variable.key.contains("="), !variable.key.utf8.contains(0),
                  !variable.value.utf8.contains(0)
            else { throw .invalidArgument("environment variable \(variable.key.debugDescription) is not valid") }
            set(variable.key + "=" + variable.value)
        }
        return environment
    }

    /// The CRI `working_dir`, else the image's `WorkingDir`, else `/`; it must be absolute.
    static func workingDirectory(_ config: ContainerConfig, image: ImageConfiguration.Config?) throws(FascoError) -> String {
        let directory = !config.workingDir.isEmpty ? config.workingDir : (image?.workingDir ?? "")
        if directory.isEmpty { return "/" }
        try requireAbsolute(directory, "working directory")
        return cleanPath(directory)
    }
}
