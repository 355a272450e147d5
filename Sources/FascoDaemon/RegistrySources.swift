import ImageStore

extension FascoConfig.Registry {
    /// The image store's view of `[registry.hosts]`.
    var registryHosts: RegistryHosts {
        RegistryHosts(hosts: hosts.mapValues {
            RegistryHosts.Host(mirrors: $0.mirrors, caFile: $0.caFile, insecureSkipVerify: $0.insecureSkipVerify, plainHTTP: $0.plainHTTP)
        })
    }
}
