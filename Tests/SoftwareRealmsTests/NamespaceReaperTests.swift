import FascoCore
@testable import SoftwareRealms
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("stopped pods' network namespaces are let go in batches")
struct NamespaceReaperTests {
    /// A pipe's read end, and whether that same pipe is still open at that number.
    private struct Held {
        let descriptor: Int32
        let inode: UInt64

        init() throws {
            var ends: [Int32] = [-1, -1]
            try #require(pipe(&ends) == 0)
            close(ends[1])
            descriptor = ends[0]
            var info = stat()
            try #require(fstat(descriptor, &info) == 0)
            inode = UInt64(info.st_ino)
        }

        var isOpen: Bool {
            var info = stat()
            return fstat(descriptor, &info) == 0 && UInt64(info.st_ino) == inode
        }
    }

    @Test("nothing goes while a pod starts or stops, nor for the quiet time after; then the batch goes")
    func waitsForQuiet() async throws {
        let reaper = NamespaceReaper(quiet: .milliseconds(50), maxHold: .seconds(60))
        let first = try Held()
        let second = try Held()
        try await reaper.busy { () throws(FascoError) in
            reaper.hold(first.descriptor)
            try? await Task.sleep(for: .milliseconds(300))
            #expect(first.isOpen, "held while a pod operation runs")
            reaper.hold(second.descriptor)
        }
        #expect(first.isOpen && second.isOpen)
        let deadline = ContinuousClock.now + .seconds(30)
        while (first.isOpen || second.isOpen) && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(!first.isOpen && !second.isOpen, "let go together")
        #expect(reaper.held.isEmpty)
    }

    @Test("under constant pod activity a batch still goes after the longest hold")
    func maxHold() async throws {
        let reaper = NamespaceReaper(quiet: .milliseconds(20), maxHold: .milliseconds(200))
        let held = try Held()
        try await reaper.busy { () throws(FascoError) in
            reaper.hold(held.descriptor)
            let deadline = ContinuousClock.now + .seconds(30)
            while held.isOpen && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(10)) }
            #expect(!held.isOpen, "let go while still busy")
        }
    }
}
