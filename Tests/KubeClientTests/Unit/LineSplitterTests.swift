import Testing

@testable import KubeClient

@Suite("Watch line splitting")
struct LineSplitterTests {
    static let lines = [
        #"{"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"1"}}}"#,
        #"{"type":"MODIFIED","object":{"metadata":{"name":"é✓ unicode","resourceVersion":"2"}}}"#,
        #"{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"3"}}}"#,
        #"{"type":"DELETED","object":{"metadata":{"name":"a","resourceVersion":"4"}}}"#,
    ]

    /// One large object (a ConfigMap of thousands of VIPs) must not pin its buffer for the watch's life.
    @Test func aLargeLineDoesNotKeepItsBuffer() throws {
        var splitter = LineSplitter()
        let large = Array(repeating: UInt8(ascii: "x"), count: 1 << 20) + [UInt8(ascii: "\n")]
        splitter.append(large)
        #expect(try splitter.nextLine()?.count == 1 << 20)
        #expect(try splitter.nextLine() == nil)
        // Given back once drained, even when no more bytes arrive (a watch gone quiet after a large event).
        #expect(splitter.capacity <= LineSplitter.keptCapacity)
        splitter.append(Array("{}\n".utf8))
        #expect(try splitter.nextLine().map { Array($0) } == Array("{}".utf8))
        #expect(splitter.capacity <= LineSplitter.keptCapacity)
    }

    @Test("any chunking yields the same lines", arguments: [1, 2, 3, 7, 64, 1000])
    func chunking(chunkSize: Int) throws {
        let stream = Array((Self.lines.joined(separator: "\n") + "\n").utf8)
        var splitter = LineSplitter()
        var got: [String] = []
        var offset = 0
        while offset < stream.count {
            splitter.append(stream[offset..<min(offset + chunkSize, stream.count)])
            offset += chunkSize
            while let line = try splitter.nextLine() { got.append(String(decoding: line, as: UTF8.self)) }
        }
        #expect(got == Self.lines)
        #expect(splitter.pending == 0)
    }

    @Test func randomChunkingWithCRLFAndBlankLines() throws {
        let stream = Array((Self.lines.joined(separator: "\r\n\n") + "\r\n").utf8)
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            var splitter = LineSplitter()
            var got: [String] = []
            var offset = 0
            while offset < stream.count {
                let size = Int.random(in: 0...40, using: &rng)
                splitter.append(stream[offset..<min(offset + size, stream.count)])
                offset += size
                while let line = try splitter.nextLine() { got.append(String(decoding: line, as: UTF8.self)) }
            }
            #expect(got == Self.lines)
        }
    }

    @Test func unterminatedTailIsPendingAndOverlongLineIsAnError() throws {
        var splitter = LineSplitter(maximumLineLength: 16)
        splitter.append(Array("{\"a\":1}\n{\"b\"".utf8))
        #expect(try splitter.nextLine().map { String(decoding: $0, as: UTF8.self) } == "{\"a\":1}")
        #expect(try splitter.nextLine() == nil)
        #expect(splitter.pending == 4)
        splitter.append(Array(repeating: UInt8(ascii: "x"), count: 20))
        #expect(throws: KubeError.self) { try splitter.nextLine() }
    }

    @Test func watchEventsDecode() throws {
        let events = try Self.lines.map { try WatchEvent<ConfigMap>.decode(ArraySlice($0.utf8), request: "test") }
        guard case .added(let a) = events[0], case .bookmark(let rv) = events[2], case .deleted = events[3] else {
            Issue.record("wrong event kinds")
            return
        }
        #expect(a.metadata.name == "a")
        #expect(rv == "3")
        #expect(events[1].object?.metadata.name == "é✓ unicode")
        let gone =
            #"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version: 1 (42)","reason":"Expired","code":410}}"#
        #expect { try WatchEvent<ConfigMap>.decode(ArraySlice(gone.utf8), request: "WATCH cm") } throws: { error in
            let e = error as! KubeError
            return e.code == .gone && e.status?.code == 410 && e.message.contains("too old")
        }
    }
}
