import Foundation
import Testing

@testable import KubeClient

@Suite("JSON parser and writer")
struct JSONCodecTests {
    private func parse(_ text: String) throws -> JSONValue { try JSONValue.parse(Array(text.utf8)) }
    private func write(_ value: JSONValue) throws -> String { String(decoding: try value.serialized(), as: UTF8.self) }

    @Test func scalarsContainersAndWhitespace() throws {
        #expect(
            try parse(
                " \n\t{ \"a\" : [ 1 , -2 , 2.5 , -0.5e1 , 1E+2 , true , false , null ] , \"b\" : { } , \"c\" : [ ] } \r\n"
            )
                == ["a": [1, -2, .double(2.5), .double(-5), .double(100), true, false, nil], "b": [:], "c": []])
        #expect(try parse("0") == 0)
        #expect(try parse("-9223372036854775808") == .int(Int64.min))
        #expect(try parse("9223372036854775808") == .double(9_223_372_036_854_775_808))
        #expect(try parse(#"{"k":1,"k":2}"#) == ["k": 2])
    }

    /// A stray character is named by its code point, never by its first UTF-8 byte shown as a Latin-1 letter.
    @Test func anUnexpectedCharacterIsNamedWhole() {
        #expect {
            try JSONValue.parse(Array("\u{FF11}".utf8))
        } throws: { error in
            "\(error)".contains("U+FF11") && !"\(error)".contains("\u{EF}")
        }
    }

    @Test func stringEscapesAndUnicode() throws {
        #expect(try parse(#""a\"b\\c\/d\b\f\n\r\t""#) == .string("a\"b\\c/d\u{08}\u{0C}\n\r\t"))
        #expect(try parse(#""\u00e9\u4e2d\ud83d\ude00""#) == .string("é中😀"))
        #expect(try parse("\"é中😀\"") == .string("é中😀"))
    }

    @Test(arguments: [
        "", " ", "{", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{1:2}", "01", "1.", ".5", "-", "1e", "+1", "tru", "nul",
        "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"a\u{01}b\"", "1 2", "[1] x", "NaN", "1e400",
    ])
    func invalidDocumentsAreRejected(_ text: String) {
        #expect(throws: (any Error).self) { try parse(text) }
    }

    @Test func depthIsBounded() throws {
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        #expect(throws: (any Error).self) { try parse(deep) }
        let fine = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: Never.self) { try parse(fine) }
    }

    @Test func writerSortsKeysByBytesAndEscapesWhatJSONRequires() throws {
        #expect(
            try write(["b": 1, "a": [true, nil, .double(0.25), .double(3)], "B": "x/y", "é": "q\"\\\n\u{01}"])
                == #"{"B":"x/y","a":[true,null,0.25,3],"b":1,"é":"q\"\\\n\u0001"}"#)
        #expect(throws: (any Error).self) { try JSONValue.double(.infinity).serialized() }
    }

    /// Foundation's decoder (through JSONValue's Codable conformance, the previous path) is the
    /// reference: both must read an API server's document the same way.
    @Test func agreesWithFoundationOnAnAPIServerResponse() throws {
        let text =
            #"{"kind":"Service","apiVersion":"v1","metadata":{"name":"web","namespace":"default","uid":"6a0d","resourceVersion":"1234","creationTimestamp":"2026-11-25T10:00:00Z","annotations":{"k8s.co/keepalived-forward-method":"DR","note":"line\nbreak \u0026 \u003cangle\u003e"},"finalizers":["service.kubernetes.io/load-balancer-cleanup"]},"spec":{"ports":[{"name":"http","protocol":"TCP","port":80,"targetPort":8080}],"type":"LoadBalancer","ipFamilies":["IPv4","IPv6"],"allocateLoadBalancerNodePorts":false},"status":{"loadBalancer":{"ingress":[{"ip":"203.0.113.10"}]},"conditions":[{"type":"x","status":"True","lastTransitionTime":"2026-11-25T10:00:01Z","reason":"R","message":"m","observedGeneration":3}]}}"#
        let ours = try parse(text)
        #expect(ours == (try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))))
    }

    @Test func randomTreesRoundTrip() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            let value = Self.randomValue(depth: 0, using: &generator)
            #expect(try JSONValue.parse(Array(try value.serialized())) == value)
        }
    }

    private static func randomValue(depth: Int, using generator: inout SystemRandomNumberGenerator) -> JSONValue {
        let choice = Int.random(in: 0..<(depth > 4 ? 5 : 7), using: &generator)
        switch choice {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &generator))
        case 2: return .int(Int64.random(in: Int64.min...Int64.max, using: &generator))
        case 3: return .double(Double(Int.random(in: -1000...1000, using: &generator)) + 0.5)
        case 4: return .string(randomString(using: &generator))
        case 5:
            return .array(
                (0..<Int.random(in: 0...4, using: &generator)).map { _ in
                    randomValue(depth: depth + 1, using: &generator)
                })
        default:
            var object = JSONObject()
            for _ in 0..<Int.random(in: 0...4, using: &generator) {
                object[randomString(using: &generator)] = randomValue(depth: depth + 1, using: &generator)
            }
            return .object(object)
        }
    }

    private static func randomString(using generator: inout SystemRandomNumberGenerator) -> String {
        let alphabet: [Character] = [
            "a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\u{01}", "\u{1F}", "é", "中", "😀", "\u{2028}",
        ]
        return String(
            (0..<Int.random(in: 0...8, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
    }
}
