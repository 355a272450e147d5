import FascoCore

extension CNINetwork {
    /// CHECK: asks every plugin, in chain order, whether the attachment is still as its ADD
    /// made it (SPEC.md section 3, "Checking an attachment"), with the cached configuration,
    /// arguments and result. Succeeds without running anything when the configuration sets
    /// `disableCheck`.
    ///
    /// `notFound` when the pod is not attached, `unimplemented` for configurations older than
    /// 0.4.0 (which have no CHECK), `failedPrecondition` when the namespace is gone or the ADD
    /// never finished; a plugin's complaint is thrown with its message.
    public func check(_ attachment: CNIAttachment) async throws(FascoError) {
        try attachment.validate(requireNamespace: true)
        guard let record = try CNIAttachmentRecord.read(recordPath(attachment.containerID, attachment.interfaceName)) else {
            throw .notFound("pod \(attachment.containerID) is not attached as \(attachment.interfaceName)")
        }
        let network = record.network
        guard network.version.supportsCheck else {
            throw .unimplemented("network \(network.name) uses CNI \(network.cniVersion), which has no CHECK (0.4.0 and later)")
        }
        if network.disableCheck { return }
        guard let result = record.result else {
            throw .failedPrecondition("the attachment of pod \(attachment.containerID) never finished; tear it down")
        }
        guard let identity = record.namespaceIdentity, NamespaceIdentity.of(attachment.networkNamespace) == identity else {
            throw .failedPrecondition(
                "the network namespace of pod \(attachment.containerID) (\(attachment.networkNamespace)) is gone or was replaced")
        }
        for plugin in network.plugins {
            let type = plugin["type"]?.stringValue ?? ""
            guard let path = pluginPath(type) else {
                throw .failedPrecondition("CNI plugin \(type) of network \(network.name) is not found in \(cniPath)")
            }
            let request = Self.request(
                plugin: plugin, network: network, capabilityArguments: record.capabilityArguments, prevResult: result)
            _ = try await call(
                .check, type: type, path: path, containerID: record.containerID, networkNamespace: attachment.networkNamespace,
                interfaceName: record.interfaceName, cniArgs: record.cniArgs
            ).run(request)
        }
    }
}
