import IPAM
import Keepalived
import Testing

@Suite("ConfigMap codecs")
struct CodecTests {
    @Test func kubeKeepalivedVIPFormatRoundTrips() throws {
        let entries = [
            try VIPEntry(
                address: IPAddress("10.210.1.65"), namespace: "default", name: "hello-world", forwardMethod: nil),
            try VIPEntry(
                address: IPAddress("10.210.1.66"), namespace: "kube-system", name: "coredns", forwardMethod: .dr),
            try VIPEntry(address: IPAddress("2001:db8::10"), namespace: "web", name: "v6", forwardMethod: .nat),
        ]
        let data = VIPConfigMapFormat.encode(entries)
        #expect(
            data == [
                "10.210.1.65": "default/hello-world", "10.210.1.66": "kube-system/coredns:DR",
                "2001:db8::10": "web/v6:NAT",
            ])
        let decoded = VIPConfigMapFormat.decode(data)
        #expect(Set(decoded.entries) == Set(entries))
        #expect(decoded.invalid.isEmpty)
    }

    @Test func badEntriesAreReportedNotDropped() {
        let decoded = VIPConfigMapFormat.decode([
            "10.210.1.65": "default/ok",
            "not-an-ip": "default/x",
            "10.210.1.67": "no-slash",
            "10.210.1.68": "default/x:TUNNEL",
            "10.210.1.69": "default/x}\n virtual_server 0.0.0.0 0 {",
        ])
        #expect(decoded.entries.map(\.name) == ["ok"])
        #expect(decoded.invalid.count == 4)
        #expect(decoded.invalid.contains { $0.contains("allowed values are NAT and DR") })
        #expect(decoded.invalid.contains { $0.contains("DNS-1123") })
    }

    @Test func namesThatCouldInjectConfigurationAreRefused() throws {
        for name in [
            "a\nb", "x}", "a b", "UPPER", "-lead", "trail-", "", String(repeating: "a", count: 64), "a/b", "a;b",
        ] {
            #expect(throws: KeepalivedError.self, "\(name)") {
                try VIPEntry(address: IPAddress("192.0.2.1"), namespace: "default", name: name, forwardMethod: nil)
            }
        }
    }

    @Test func forwardMethodParsing() throws {
        #expect(try ForwardMethod(parsing: "dr", source: "x") == .dr)
        #expect { try ForwardMethod(parsing: "TUN", source: "annotation k8s.co/keepalived-forward-method") } throws: {
            ($0 as! KeepalivedError).message
                == "annotation k8s.co/keepalived-forward-method is \"TUN\"; allowed values are NAT and DR"
        }
    }

    @Test func legacyLedgerReadsThePredecessorsJSON() throws {
        let json =
            #"{"services":[{"uid":"6c1d","ip":"10.210.38.65","serviceNamespace":"default","serviceName":"test","forwardMethod":"DR"},{"uid":"7a2e","ip":"10.210.38.66","serviceNamespace":"default","serviceName":"other"}]}"#
        let ledger = try LegacyLedger(json: json)
        #expect(ledger.records.count == 2)
        #expect(ledger.records[0].forwardMethod == "DR")
        #expect(ledger.records[1].forwardMethod == nil)
        #expect(try LegacyLedger(json: ledger.json()) == ledger)
        #expect(try LegacyLedger(json: "{}").records.isEmpty)
        #expect { try LegacyLedger(json: "[") } throws: {
            ($0 as! KeepalivedError).message.contains("k8s.co/cloud-provider-config")
        }
    }
}
