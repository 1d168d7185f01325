import Foundation
import IPAM

/// The Go keepalived-cloud-provider's ledger, kept in the ConfigMap annotation
/// `k8s.co/cloud-provider-config`. Read on start-up so an upgrade keeps every IP; written back so
/// a rollback to the old image still finds its state.
public struct LegacyLedger: Hashable, Sendable {
    public static let annotation = "k8s.co/cloud-provider-config"

    public struct Record: Hashable, Sendable, Codable {
        public var uid: String
        public var ip: String
        public var serviceNamespace: String
        public var serviceName: String
        public var forwardMethod: String?

        public init(uid: String, ip: String, serviceNamespace: String, serviceName: String, forwardMethod: String?) {
            self.uid = uid
            self.ip = ip
            self.serviceNamespace = serviceNamespace
            self.serviceName = serviceName
            self.forwardMethod = forwardMethod
        }
    }

    private struct Document: Codable {
        var services: [Record]?
    }

    public var records: [Record]

    public init(records: [Record]) {
        self.records = records
    }

    public init(json: String) throws(KeepalivedError) {
        do {
            records = try JSONDecoder().decode(Document.self, from: Data(json.utf8)).services ?? []
        } catch {
            throw KeepalivedError(
                .invalidLegacyLedger,
                "annotation \(Self.annotation) is not the predecessor's JSON ({\"services\":[…]}): \(error)")
        }
    }

    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data =
            (try? encoder.encode(Document(services: records.sorted { ($0.ip, $0.uid) < ($1.ip, $1.uid) })))
            ?? Data("{\"services\":[]}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
