import FascoCore
import Foundation
import Glibc
import ImageStore
import OCISpec
import Testing

@Suite("layer unpacking: DiffIDs, damaged blobs and compression detection")
struct UnpackErrorTests {
    static let sample: [UnpackTarSpec] = [.dir("d/"), .file("d/f", String(repeating: "payload ", count: 20_000))]

    @Test("a matching expected DiffID passes; a different one is an error", arguments: [LayerCompression.gzip, .zstd])
    func expectedDiffID(compression: LayerCompression) throws {
        let tar = try UnpackFixture.tar(Self.sample)
        let good = try UnpackScratch()
        let blob = try good.blob(UnpackFixture.compress(tar, compression))
        let result = try LayerUnpacker.apply(blobPath: blob, compression: compression, to: good.root,
                                             options: .init(expectedDiffID: Digest.of(tar)))
        #expect(result.diffID == Digest.of(tar))

        let bad = try UnpackScratch()
        let badBlob = try bad.blob(UnpackFixture.compress(tar, compression))
        let wrong = Digest.of(Array("something else".utf8))
        let error = try #require(throws: FascoError.self) {
            try LayerUnpacker.apply(blobPath: badBlob, compression: compression, to: bad.root,
                                    options: .init(expectedDiffID: wrong))
        }
        #expect(error.code == .invalidArgument)
        #expect(error.message.contains(wrong.description))
        #expect(error.message.contains(Digest.of(tar).description))
    }

    @Test("a sha512 expected DiffID is computed with sha512")
    func sha512DiffID() throws {
        let tar = try UnpackFixture.tar(Self.sample)
        let scratch = try UnpackScratch()
        let expected = Digest.of(tar, algorithm: .sha512)
        let result = try LayerUnpacker.apply(blobPath: try scratch.blob(tar), compression: .uncompressed, to: scratch.root,
                                             options: .init(expectedDiffID: expected))
        #expect(result.diffID == expected)
    }

    @Test("truncated compressed blobs are errors", arguments: [LayerCompression.gzip, .zstd])
    func truncatedCompressed(compression: LayerCompression) throws {
        let compressed = try UnpackFixture.compress(UnpackFixture.tar(Self.sample), compression)
        for keep in [compressed.count / 2, compressed.count - 4, 10] {
            let scratch = try UnpackScratch()
            let blob = try scratch.blob(Array(compressed.prefix(keep)))
            let error = try #require(throws: FascoError.self) {
                try LayerUnpacker.apply(blobPath: blob, compression: compression, to: scratch.root)
            }
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains("truncated") || error.message.contains("not valid"), "\(error)")
        }
    }

    @Test("a truncated tar is an error")
    func truncatedTar() throws {
        let tar = try UnpackFixture.tar(Self.sample)
        let scratch = try UnpackScratch()
        let blob = try scratch.blob(Array(tar.prefix(5000)))
        let error = try #require(throws: FascoError.self) {
            try LayerUnpacker.apply(blobPath: blob, compression: .uncompressed, to: scratch.root)
        }
        #expect(error.code == .invalidArgument)
        #expect(error.message.contains("d/f"), "\(error)")
    }

    @Test("garbage is an error whatever the declared compression", arguments: [LayerCompression.uncompressed, .gzip, .zstd])
    func garbage(compression: LayerCompression) throws {
        var generator = UnpackRandom(seed: 7)
        let junk = (0..<100_000).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let scratch = try UnpackScratch()
        let blob = try scratch.blob(junk)
        let error = try #require(throws: FascoError.self) {
            try LayerUnpacker.apply(blobPath: blob, compression: compression, to: scratch.root)
        }
        #expect(error.code == .invalidArgument)
        #expect(UnpackInspect.isEmptyDirectory(scratch.root))
    }

    @Test("a corrupted gzip body (bad CRC or bad data) is an error")
    func corruptedGzip() throws {
        var compressed = try UnpackFixture.gzip(UnpackFixture.tar(Self.sample))
        compressed[compressed.count - 6] ^= 0xFF  // in the CRC-32 trailer
        let scratch = try UnpackScratch()
        let blob = try scratch.blob(compressed)
        let error = try #require(throws: FascoError.self) {
            try LayerUnpacker.apply(blobPath: blob, compression: .gzip, to: scratch.root)
        }
        #expect(error.code == .invalidArgument)
    }

    @Test("a valid compressed stream followed by garbage is an error")
    func trailingGarbage() throws {
        let compressed = try UnpackFixture.gzip(UnpackFixture.tar(Self.sample)) + Array("trailing junk!".utf8)
        let scratch = try UnpackScratch()
        let blob = try scratch.blob(compressed)
        let error = try #require(throws: FascoError.self) {
            try LayerUnpacker.apply(blobPath: blob, compression: .gzip, to: scratch.root)
        }
        #expect(error.code == .invalidArgument)
        #expect(error.message.contains("after the end of the gzip stream"), "\(error)")
    }

    @Test("concatenated gzip members and zstd frames are one stream")
    func multiMember() throws {
        let tar = try UnpackFixture.tar(Self.sample)
        let cut = 7777
        let scratch = try UnpackScratch()
        let gzipBlob = try scratch.blob(UnpackFixture.gzip(Array(tar.prefix(cut))) + UnpackFixture.gzip(Array(tar.dropFirst(cut))))
        let result = try LayerUnpacker.apply(blobPath: gzipBlob, compression: .gzip, to: scratch.root)
        #expect(result.diffID == Digest.of(tar))

        let second = try UnpackScratch()
        let zstdBlob = try second.blob(UnpackFixture.zstd(Array(tar.prefix(cut))) + UnpackFixture.zstd(Array(tar.dropFirst(cut))))
        let zstdResult = try LayerUnpacker.apply(blobPath: zstdBlob, compression: .zstd, to: second.root)
        #expect(zstdResult.diffID == Digest.of(tar))
        #expect(UnpackInspect.lstat(second.inRoot("d/f"))?.st_size == 160_000)
    }

    @Test("empty layers work: end-of-archive blocks only, or no bytes at all",
          arguments: [LayerCompression.uncompressed, .gzip, .zstd])
    func emptyLayer(compression: LayerCompression) throws {
        for tar in [try UnpackFixture.tar([]), [UInt8](repeating: 0, count: 1024), []] {
            let scratch = try UnpackScratch()
            let blob = try scratch.blob(UnpackFixture.compress(tar, compression))
            let result = try LayerUnpacker.apply(blobPath: blob, compression: compression, to: scratch.root)
            #expect(result.entries == 0)
            #expect(result.uncompressedBytes == Int64(tar.count))
            #expect(result.diffID == Digest.of(tar))
            #expect(UnpackInspect.isEmptyDirectory(scratch.root))
        }
    }

    @Test("the well-known empty gzip layer has the well-known DiffID")
    func wellKnownEmptyLayer() throws {
        // 1024 zero bytes; its sha256 is the DiffID Docker uses for empty layers.
        let scratch = try UnpackScratch()
        let blob = try scratch.blob(UnpackFixture.gzip([UInt8](repeating: 0, count: 1024)))
        let result = try LayerUnpacker.apply(blobPath: blob, compression: .gzip, to: scratch.root)
        #expect(result.diffID.description == "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef")
    }

    @Test("missing blob and missing root are notFound")
    func missing() throws {
        let scratch = try UnpackScratch()
        let missingBlob = try #require(throws: FascoError.self) {
            try LayerUnpacker.apply(blobPath: scratch.path + "/nope", compression: .gzip, to: scratch.root)
        }
        #expect(missingBlob.code == .notFound)
        let blob = try scratch.blob(UnpackFixture.tar([]))
        let missingRoot = try #require(throws: FascoError.self) {
            try LayerUnpacker.apply(blobPath: blob, compression: .uncompressed, to: scratch.path + "/no-root")
        }
        #expect(missingRoot.code == .notFound)
    }

    @Test("compression is detected from magic bytes")
    func detect() throws {
        let scratch = try UnpackScratch()
        let tar = try UnpackFixture.tar(Self.sample)
        #expect(LayerUnpacker.detectCompression(blobPath: try scratch.blob(UnpackFixture.gzip(tar))) == .gzip)
        #expect(LayerUnpacker.detectCompression(blobPath: try scratch.blob(UnpackFixture.zstd(tar))) == .zstd)
        #expect(LayerUnpacker.detectCompression(blobPath: try scratch.blob(tar)) == .uncompressed)
        #expect(LayerUnpacker.detectCompression(blobPath: try scratch.blob([0x1F])) == .uncompressed)
        #expect(LayerUnpacker.detectCompression(blobPath: try scratch.blob([])) == .uncompressed)
        #expect(LayerUnpacker.detectCompression(blobPath: scratch.path + "/missing") == .uncompressed)
    }
}
