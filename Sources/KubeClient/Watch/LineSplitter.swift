/// Splits a byte stream into newline-terminated lines, whatever the chunking. A watch sends one
/// JSON object per line, but a chunk may hold half a line, or ten.
public struct LineSplitter: Sendable {
    private var buffer: [UInt8] = []
    private var start = 0
    /// A line longer than this is an error rather than unbounded memory.
    public let maximumLineLength: Int

    public init(maximumLineLength: Int = 32 << 20) {
        self.maximumLineLength = maximumLineLength
    }

    /// A buffer grown past this (by one large object) is let go once drained, not kept for the watch's life.
    static let keptCapacity = 64 << 10

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        if start > 0 && start >= buffer.count / 2 {
            if buffer.capacity > Self.keptCapacity {
                buffer = Array(buffer[start...])
            } else {
                buffer.removeFirst(start)
            }
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete line without its terminator (CRLF tolerated); nil until one is complete.
    /// Empty lines are skipped.
    public mutating func nextLine() throws(KubeError) -> ArraySlice<UInt8>? {
        while let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
            var end = newline
            if end > start && buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            let line = buffer[start..<end]
            start = newline + 1
            if !line.isEmpty { return line }
        }
        // Drained after a large object, with nothing more coming yet: give the buffer back now, not at the next chunk.
        if start == buffer.count && buffer.capacity > Self.keptCapacity {
            buffer = []
            start = 0
        }
        if buffer.count - start > maximumLineLength {
            throw KubeError(.decoding, "watch line longer than \(maximumLineLength) bytes without a newline")
        }
        return nil
    }

    /// Bytes of an unterminated last line (the stream ended mid-object).
    public var pending: Int { buffer.count - start }

    var capacity: Int { buffer.capacity }
}
