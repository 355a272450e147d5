import FascoCore

extension CNINetwork {
    /// ADD: attaches the pod's namespace to the network (SPEC.md section 3, "Adding an
    /// attachment"): each plugin in chain order, each given the previous one's result as
    /// `prevResult`; the last result is returned and cached with the exact configuration used.
    ///
    /// Fails with `failedPrecondition` when the network is not ready, `alreadyExists` when the
    /// attachment is already set up (tear it down first), `invalidArgument` for a namespace path
    /// that is not a namespace or is the daemon's own. When a plugin fails, the chain is undone
    /// (DEL in reverse order, best effort) before the error, the plugin's own message, is
    /// thrown, with what undoing could not do appended; no attachment record stays (one that cannot be
    /// removed is logged: nothing removes it later).
    public func setUp(_ attachment: CNIAttachment) async throws(FascoError) -> CNIResult {
        try attachment.validate(requireNamespace: true)
        guard let identity = NamespaceIdentity.of(attachment.networkNamespace) else {
            throw .invalidArgument("network namespace \(attachment.networkNamespace) does not exist")
        }
        if let own = NamespaceIdentity.current {
            guard identity.device == own.device else {
                throw .invalidArgument("\(attachment.networkNamespace) is not a namespace")
            }
            guard identity != own else {
                throw .invalidArgument("\(attachment.networkNamespace) is the daemon's own network namespace, not a pod's")
            }
        }
        var (network, paths) = try resolvedNetwork()
        try FileSystem.makeDirectories(cacheDirectory, mode: 0o700)
        let recordPath = recordPath(attachment.containerID, attachment.interfaceName)
        if try CNIAttachmentRecord.read(recordPath) != nil {
            throw .alreadyExists(
                "pod \(attachment.containerID) is already attached as \(attachment.interfaceName); tear it down first")
        }
        network.cniVersion = await selectVersion(network, paths: paths)

        var record = CNIAttachmentRecord(
            containerID: attachment.containerID, interfaceName: attachment.interfaceName,
            networkNamespace: attachment.networkNamespace, namespaceIdentity: identity, cniArgs: attachment.cniArgs,
            capabilityArguments: attachment.capabilityArguments, network: network, result: nil)
        try record.write(to: recordPath)

        var previous: JSONValue?
        do throws(FascoError) {
            for (plugin, path) in zip(network.plugins, paths) {
                let type = plugin["type"]?.stringValue ?? ""
                let request = Self.request(
                    plugin: plugin, network: network, capabilityArguments: record.capabilityArguments, prevResult: previous)
                let output = try await call(
                    .add, type: type, path: path, containerID: attachment.containerID,
                    networkNamespace: attachment.networkNamespace, interfaceName: attachment.interfaceName,
                    cniArgs: record.cniArgs
                ).run(request)
                guard let output, output.objectValue != nil else {
                    throw .internal("CNI plugin \(type) ADD for \(attachment.containerID) succeeded without printing a result")
                }
                previous = output
            }
            guard let final = previous else { throw .internal("network \(network.name) has no plugins") }
            let result: CNIResult
            do throws(FascoError) {
                result = try CNIResult.parse(final, configVersion: network.version)
            } catch {
                throw FascoError(error.code, "network \(network.name): \(error.message)")
            }
            record.result = final
            try record.write(to: recordPath)
            return result
        } catch {
            // Undo whatever part of the chain ran, with the last result there was. The record
            // goes either way: a failed ADD unwinds the whole pod, so no later DEL would come
            // for it, and retrying with the same configuration would fail the same way.
            var undo = record
            undo.result = previous
            var undoFailure: FascoError?
            do throws(FascoError) {
                try await runDelete(undo, networkNamespace: attachment.networkNamespace)
            } catch let failure {
                undoFailure = failure
            }
            do throws(FascoError) {
                try FileSystem.removeTree(recordPath)
            } catch let removal {
                // Nothing removes it later: a record without a result is never torn down.
                logger.cleanUpFailed(
                    "remove the attachment record of a failed ADD", error: removal, pod: attachment.containerID, left: recordPath)
            }
            if let undoFailure {
                throw FascoError(error.code, "\(error.message); undoing the attachment failed too: \(undoFailure.message)")
            }
            throw error
        }
    }
}
