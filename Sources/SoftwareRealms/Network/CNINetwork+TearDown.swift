import FascoCore

extension CNINetwork {
    /// DEL: detaches the pod (SPEC.md section 3, "Deleting an attachment") with the cached
    /// configuration and arguments of its ADD: each plugin in reverse order, each given the
    /// ADD's final result as `prevResult` (from version 0.4.0 on). Idempotent: an attachment
    /// with no record (never set up, or already torn down) succeeds without running anything.
    ///
    /// When the namespace no longer exists, or its path now names another namespace (a reused
    /// PID), the plugins get an empty CNI_NETNS, as the spec allows for DEL: they release the
    /// address and what they made on the host, and the pod's interfaces went with the namespace.
    /// Tear down while the namespace exists when possible: Debian's bridge plugin (1.1.1)
    /// removes its ipMasq rules only when it can read the addresses from the namespace.
    ///
    /// A plugin's failure stops the chain and is thrown; the record stays, so a later call retries.
    public func tearDown(_ attachment: CNIAttachment) async throws(FascoError) {
        try attachment.validate(requireNamespace: false)
        let recordPath = recordPath(attachment.containerID, attachment.interfaceName)
        let record: CNIAttachmentRecord
        do throws(FascoError) {
            guard let stored = try CNIAttachmentRecord.read(recordPath) else { return }
            record = stored
        } catch {
            try await tearDownWithoutRecord(attachment, recordPath: recordPath, problem: error)
            return
        }
        var namespace = ""
        if let identity = record.namespaceIdentity, NamespaceIdentity.of(attachment.networkNamespace) == identity {
            namespace = attachment.networkNamespace
        }
        try await runDelete(record, networkNamespace: namespace)
        try FileSystem.removeTree(recordPath)
    }

    /// DEL of `record`'s chain in reverse order, stopping at the first failure.
    func runDelete(_ record: CNIAttachmentRecord, networkNamespace: String) async throws(FascoError) {
        let network = record.network
        let prevResult = network.version.supportsCheck ? record.result : nil
        for plugin in network.plugins.reversed() {
            let type = plugin["type"]?.stringValue ?? ""
            guard let path = pluginPath(type) else {
                throw .failedPrecondition(
                    "cannot detach pod \(record.containerID): CNI plugin \(type) of network \(network.name) is not found in \(cniPath)")
            }
            let request = Self.request(
                plugin: plugin, network: network, capabilityArguments: record.capabilityArguments, prevResult: prevResult)
            _ = try await call(
                .delete, type: type, path: path, containerID: record.containerID, networkNamespace: networkNamespace,
                interfaceName: record.interfaceName, cniArgs: record.cniArgs
            ).run(request)
        }
    }

    /// A record that cannot be read (it is written atomically, so this takes a damaged disk or
    /// a foreign file): DEL with the current configuration, which is the best guess there is,
    /// then the record goes. Without a usable configuration the original problem is thrown.
    private func tearDownWithoutRecord(
        _ attachment: CNIAttachment, recordPath: String, problem: FascoError
    ) async throws(FascoError) {
        let network: CNINetworkConfig
        do throws(FascoError) {
            network = try resolvedNetwork().network
        } catch {
            throw FascoError(problem.code, "\(problem.message); no usable network configuration to detach with either: \(error.message)")
        }
        let namespace = NamespaceIdentity.of(attachment.networkNamespace) == nil ? "" : attachment.networkNamespace
        let record = CNIAttachmentRecord(
            containerID: attachment.containerID, interfaceName: attachment.interfaceName, networkNamespace: namespace,
            namespaceIdentity: nil, cniArgs: attachment.cniArgs, capabilityArguments: attachment.capabilityArguments,
            network: network, result: nil)
        try await runDelete(record, networkNamespace: namespace)
        try FileSystem.removeTree(recordPath)
    }
}
