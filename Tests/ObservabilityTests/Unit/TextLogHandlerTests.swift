import KubeClient
import Logging
import Observability
import Testing

@Suite("Text log lines and safe text (no I/O)")
struct TextLogHandlerTests {
    /// A newline in a value quoted from a Service would start a second, forged line.
    @Test func controlCharactersCannotForgeALogLine() {
        let forged = "x\n2026-11-30T00:00:00Z error keepalived-cloud-provider: all VIPs deleted"
        let line = TextLogHandler.format(
            timestamp: "T", level: .warning, label: "controller", message: "bad annotation \(forged)",
            metadata: ["value": .string(forged), "esc": .string("\u{1b}[2J\r\u{2028}")])
        #expect(!line.contains("\n") && !line.contains("\r") && !line.contains("\u{1b}") && !line.contains("\u{2028}"))
        #expect(line.contains("x\\n2026"))
        #expect(
            line
                == "T warning controller: bad annotation x\\n2026-11-30T00:00:00Z error keepalived-cloud-provider: all VIPs deleted "
                + "esc=\\u{1b}[2J\\r\\u{2028} value=x\\n2026-11-30T00:00:00Z error keepalived-cloud-provider: all VIPs deleted"
        )
    }

    @Test func valuesAreBounded() {
        let line = TextLogHandler.format(
            timestamp: "T", level: .info, label: "l", message: String(repeating: "m", count: 100_000),
            metadata: ["v": .string(String(repeating: "v", count: 100_000))])
        #expect(line.utf8.count < 2 * SafeText.logValueLimit + 200)
        #expect(line.contains("…(97952 more bytes)"))
    }

    @Test func safeTextKeepsOrdinaryTextAndCountsWhatItCut() {
        #expect(SafeText.escaped("plain ünïcode ✓") == "plain ünïcode ✓")
        #expect(SafeText.escaped("a\tb", limit: 10) == "a\\tb")
        #expect(SafeText.escaped("ééééé", limit: 4) == "éé…(6 more bytes)")
        #expect(SafeText.escaped(String(repeating: "x", count: 1024), limit: 1024).utf8.count == 1024)
    }
}
