import RealmAttestation

extension SystemRealmRequest {
    /// What a System Realm's measurement covers of this request: namespace modes, user
    /// namespace ranges (without host IDs), and the settings the layer above added.
    public func measuredDocument(runtimeHandler: String) -> SystemRealmDocument {
        var settings = measuredSettings
        settings["namespace.network"] = network.rawValue
        settings["namespace.ipc"] = ipc.rawValue
        settings["namespace.pid.shared"] = sharedPID ? "true" : "false"
        if let userNamespace {
            settings["namespace.user.uids"] = userNamespace.uids.map { "\($0.containerID)+\($0.size)" }.joined(separator: ",")
            settings["namespace.user.gids"] = userNamespace.gids.map { "\($0.containerID)+\($0.size)" }.joined(separator: ",")
        } else {
            settings["namespace.user"] = "host"
        }
        return SystemRealmDocument(runtimeHandler: runtimeHandler, settings: settings)
    }
}
