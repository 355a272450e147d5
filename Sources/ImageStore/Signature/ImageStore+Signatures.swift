import FascoCore
import FoundationEssentials
import OCISpec

extension ImageStore {
    /// The cosign signatures of `digest` in `reference`'s repository: the layers of the
    /// signature image tagged `sha256-<hex>.sig` there whose media type is cosign's
    /// simple-signing payload and which carry the signature annotation. None when the
    /// tag does not exist. When the policy does not `require` signatures, a failure to
    /// read them is not the pull's failure (they are kept only as evidence for later).
    func cosignSignatures(of reference: ImageReference, digest: Digest, from source: any ImageSource,
                          required: Bool) async throws(FascoError) -> [CosignSignature] {
        do throws(FascoError) {
            return try await readCosignSignatures(of: reference, digest: digest, from: source)
        } catch {
            if !required || error.code == .notFound { return [] }
            // A signature image that cannot be read is no signature: the policy refuses the
            // image (FAILED_PRECONDITION) rather than the pull failing INTERNAL; an
            // unreachable registry stays UNAVAILABLE (try again).
            if error.code == .unavailable || error.code == .deadlineExceeded || error.code == .unauthenticated { throw error }
            return []
        }
    }

    private func readCosignSignatures(of reference: ImageReference, digest: Digest,
                                      from source: any ImageSource) async throws(FascoError) -> [CosignSignature] {
        let tag = CosignSignature.tag(for: digest)
        let fetched = try await source.manifest(repository: reference.path, reference: tag)
        let manifest: Manifest
        do { manifest = try JSONDecoder().decode(Manifest.self, from: Data(fetched.bytes)) } catch {
            throw .failedPrecondition("the signature manifest \(reference.repository):\(tag) is not an image manifest: \(error)")
        }
        var signatures: [CosignSignature] = []
        for layer in manifest.layers.prefix(64) where layer.mediaType == CosignSignature.payloadMediaType {
            guard let signature = layer.annotations?[CosignSignature.signatureAnnotation],
                  layer.size >= 0, layer.size <= CosignSignature.maxPayloadSize,
                  let layerDigest = try? Digest(parsing: layer.digest) else { continue }  // not a signature layer Fasco reads
            // The payload is verified against the layer's digest as it is read.
            let payload = try await source.smallBlob(repository: reference.path, digest: layerDigest, size: layer.size)
            signatures.append(CosignSignature(repository: reference.repository, manifestDigest: digest,
                                              payload: Data(payload).base64EncodedString(), signature: signature))
        }
        return signatures
    }

    /// Holds `record`, which a container is about to be created from, to the signature
    /// policy in force now: an image pulled or imported before the policy changed must
    /// satisfy it again (offline, against the signatures kept at pull time).
    ///
    /// `name` is what CreateContainer named the image by. A reference (tag or digest) is
    /// judged as that reference, its digest being the record's repo digest of that
    /// repository. An image ID is judged under each of the record's repo digests
    /// (`repo@digest`): the image runs when one of them is admitted (they all name the
    /// same config, hence the same layers). FAILED_PRECONDITION names the scope and rule.
    ///
    /// `policy` replaces the node's (a pod's own policy from its key broker).
    public nonisolated func admitToRun(_ record: ImageRecord, name: String, policy given: SignaturePolicy? = nil) throws(FascoError) {
        guard let policy = given ?? signaturePolicy else { return }
        let signatures = record.signatures ?? []
        // Names the store wrote itself; `name` is an image ID when it is no reference.
        let repoDigests = record.repoDigests.compactMap { try? ImageReference(parsing: $0) }
        var candidates: [(reference: ImageReference?, digest: Digest?)]
        if !Self.namesImageID(name, record), let reference = try? ImageReference(parsing: name) {
            if let digest = reference.digest {
                candidates = [(reference, digest)]
            } else {
                candidates = repoDigests.filter { $0.repository == reference.repository }.map { (reference, $0.digest) }
                if candidates.isEmpty { candidates = [(reference, nil)] }
            }
        } else {
            candidates = repoDigests.map { ($0, $0.digest) }
            if candidates.isEmpty { candidates = [(nil, nil)] }
        }
        var first: FascoError?
        for candidate in candidates {
            do throws(FascoError) {
                try policy.admit(candidate.reference, digest: candidate.digest, signatures: signatures)
                return
            } catch {
                if first == nil { first = error }
            }
        }
        if let first { throw first }
    }

    /// Whether `name` is `record`'s image ID (in one of the forms `image(_:)` accepts).
    static func namesImageID(_ name: String, _ record: ImageRecord) -> Bool {
        if let digest = try? Digest(parsing: name), digest == record.id { return true }  // a probe: a name need not be a digest
        let hex = name.hasPrefix("sha256:") ? String(name.dropFirst(7)) : name
        return hex.count >= 12 && record.id.encoded.hasPrefix(hex)
    }
}
