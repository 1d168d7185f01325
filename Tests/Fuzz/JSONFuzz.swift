import JSON

/// Every API response and watch line goes through the JSON parser: hostile input throws, never
/// crashes, hangs or recurses without bound.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeBufferPointer(start: data, count: size)
    guard let value = try? JSONParser.parse(input) else { return 0 }
    // What parses is written back in a form that reads again to the same bytes (numbers may
    // change spelling once: -1.5e3 is written as -1500).
    guard let written = try? JSONWriter.write(value),
        let again = try? written.withUnsafeBufferPointer({ try JSONParser.parse($0) }),
        let rewritten = try? JSONWriter.write(again), rewritten == written
    else { fatalError("a parsed document does not survive being written and read again") }
    return 0
}
