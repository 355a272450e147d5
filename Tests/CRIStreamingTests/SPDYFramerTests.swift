@testable import CRIStreaming
import Testing

@Suite("SPDY/3 framing")
struct SPDYFramerTests {
    static func hex(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            bytes.append(UInt8(text[index..<next], radix: 16) ?? 0)
            index = next
        }
        return bytes
    }

    @Test("header blocks compressed by another zlib (level 9, the draft's dictionary, sync flush) decode, continuing one context")
    func interoperableHeaderBlocks() throws {
        // Two SYN_STREAMs as Go's spdy framer writes them, made with Python's zlib.
        let wire = Self.hex(
            "80030001000000280000000100000000000078f9e3c6a7c202a62346703a2b294a4dcc851625aca9a08006000000ffff"
                + "800300010000002d0000000300000000000002a54748d15c044ac64c16064092b308129199a004ce6880a115540a2502000000ffff")
        let framer = try #require(SPDYFramer())
        var input = ByteQueue(wire)
        let first = try framer.parse(&input)
        let second = try framer.parse(&input)
        #expect(first == .synStream(streamID: 1, associatedTo: 0, priority: 0, flags: 0, headers: SPDYHeaders([("streamtype", "error")])))
        #expect(second == .synStream(streamID: 3, associatedTo: 0, priority: 0, flags: 0,
                                     headers: SPDYHeaders([("port", "80"), ("requestid", "0"), ("streamtype", "data")])))
        #expect(try framer.parse(&input) == nil)
        #expect(input.isEmpty)
    }

    @Test("every frame round-trips between two framers, byte by byte")
    func roundTrip() throws {
        let client = try #require(SPDYFramer())
        let server = try #require(SPDYFramer())
        let frames: [SPDYFrame] = [
            .synStream(streamID: 1, associatedTo: 0, priority: 3, flags: SPDYFrame.finFlag,
                       headers: SPDYHeaders([("streamtype", "stdin"), ("x", "a"), ("x", "b")])),
            .synReply(streamID: 1, flags: 0, headers: SPDYHeaders()),
            .data(streamID: 1, flags: 0, payload: Array("hello".utf8)),
            .data(streamID: 1, flags: SPDYFrame.finFlag, payload: []),
            .rstStream(streamID: 5, status: .cancel),
            .ping(id: 7),
            .goAway(lastGoodStreamID: 9, status: 0),
            .headers(streamID: 3, flags: 0, headers: SPDYHeaders([("a", "b")])),
            .windowUpdate(streamID: 3, delta: 65536),
            .synStream(streamID: 3, associatedTo: 1, priority: 0, flags: 0, headers: SPDYHeaders([("streamtype", "stdout")])),
        ]
        var wire: [UInt8] = []
        for frame in frames { wire += client.encode(frame) }
        // Fed one byte at a time: a frame is only returned once complete.
        var input = ByteQueue()
        var parsed: [SPDYFrame] = []
        for byte in wire {
            input.append([byte])
            while let frame = try server.parse(&input) { parsed.append(frame) }
        }
        #expect(parsed == frames)
    }

    @Test("oversized frames, other versions, corrupt header blocks and stream 0 are connection errors")
    func protocolErrors() throws {
        func fails(_ bytes: [UInt8]) throws -> Bool {
            let framer = try #require(SPDYFramer())
            var input = ByteQueue(bytes)
            do {
                _ = try framer.parse(&input)
                return false
            } catch {
                return true
            }
        }
        // DATA of 16 MiB - 1 announced: refused before any payload arrives.
        #expect(try fails([0, 0, 0, 1, 0, 0xff, 0xff, 0xff]))
        // A control frame of 1 MiB.
        #expect(try fails([0x80, 3, 0, 1, 0, 0x10, 0, 0]))
        // SPDY/2.
        #expect(try fails([0x80, 2, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1]))
        // A SYN_STREAM whose header block is not zlib.
        #expect(try fails([0x80, 3, 0, 1, 0, 0, 0, 14, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]))
        // A SYN_STREAM shorter than its fixed fields.
        #expect(try fails([0x80, 3, 0, 1, 0, 0, 0, 2, 0, 0]))
        // DATA on stream 0.
        #expect(try fails([0, 0, 0, 0, 0, 0, 0, 0]))
        // SETTINGS whose count does not match its length.
        #expect(try fails([0x80, 3, 0, 4, 0, 0, 0, 4, 0, 0, 0, 9]))
        // Unknown control types are skipped, not errors.
        #expect(try !fails([0x80, 3, 0, 0x42, 0, 0, 0, 1, 0]))
    }

    @Test("a header block that inflates past the limit is refused")
    func headerBomb() throws {
        let client = try #require(SPDYFramer())
        let big = String(repeating: "a", count: 200_000)
        let wire = client.encode(.synStream(streamID: 1, associatedTo: 0, priority: 0, flags: 0, headers: SPDYHeaders([("x", big)])))
        #expect(wire.count < 64 << 10)  // compresses well below the control frame limit
        let server = try #require(SPDYFramer())
        var input = ByteQueue(wire)
        #expect(throws: SPDYFramer.ProtocolError.self) { try server.parse(&input) }
    }

    @Test("the header block parser refuses lengths past its end and too many fields")
    func headerBlockBounds() {
        #expect(SPDYHeaders.decode([0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff], maxFields: 10) == nil)
        #expect(SPDYHeaders.decode([0, 0, 1, 0], maxFields: 10) == nil)
        #expect(SPDYHeaders.decode([0, 0, 0, 0, 9], maxFields: 10) == nil)
        let block = SPDYHeaders([("streamtype", "error"), ("port", "8080")]).encoded()
        #expect(SPDYHeaders.decode(block, maxFields: 10)?["streamType"] == "error")
        #expect(SPDYHeaders.decode(block, maxFields: 1) == nil)
    }
}
