/// Layer chain IDs (OCI image-spec config.md "Layer ChainID"): ChainID(L0) = DiffID(L0),
/// ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln)). A snapshot is named by
/// the chain ID of the layers it holds, so images sharing a base share its snapshots.
public enum ChainID {
    public static func chain(_ diffIDs: [Digest]) -> [Digest] {
        var chain: [Digest] = []
        for diffID in diffIDs {
            if let parent = chain.last {
                chain.append(Digest.of(Array("\(parent) \(diffID)".utf8)))
            } else {
                chain.append(diffID)
            }
        }
        return chain
    }
}
