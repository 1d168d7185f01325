public import BGP
import IPAM
public import KubeClient

/// `bgppeers.keepalived-lb.io/v1alpha1`: a router that the agents of the nodes it selects peer with
/// (deploy/base/bgppeers.yaml).
public struct BGPPeer: KubernetesObject {
    public static let resource = ResourceDescriptor(
        group: "keepalived-lb.io", version: "v1alpha1", kind: "BGPPeer", plural: "bgppeers", namespaced: false)

    public var json: JSONObject
    public init(json: JSONObject) { self.json = json }

    public var spec: Spec {
        get { self[object: "spec"] }
        set { self[object: "spec"] = newValue }
    }

    public var status: Status {
        get { self[object: "status"] }
        set { self[object: "status"] = newValue }
    }

    /// Written by the controller from what each selected node's agent publishes (`BGPSessionState`).
    public struct Status: JSONBacked {
        public var json: JSONObject
        public init(json: JSONObject) { self.json = json }

        public var nodes: [NodeSession] { self[objects: "nodes"] }
        public var establishedNodes: Int? { self[int: "establishedNodes"] }
        public var conditions: [Condition] { self[objects: "conditions"] }
    }

    /// One node's session with this peer.
    public struct NodeSession: JSONBacked {
        public var json: JSONObject
        public init(json: JSONObject) { self.json = json }

        public var name: String? { self[string: "name"] }
        public var session: String? { self[string: "session"] }
        public var bfd: String? { self[string: "bfd"] }
        public var message: String? { self[string: "message"] }
    }

    public struct Spec: JSONBacked {
        public var json: JSONObject
        public init(json: JSONObject) { self.json = json }

        public var peerAddress: String? {
            get { self[string: "peerAddress"] }
            set { self[string: "peerAddress"] = newValue }
        }
        public var peerASN: Int? {
            get { self[int: "peerASN"] }
            set { self[int: "peerASN"] = newValue }
        }
        public var localASN: Int? {
            get { self[int: "localASN"] }
            set { self[int: "localASN"] = newValue }
        }
        public var port: Int? {
            get { self[int: "port"] }
            set { self[int: "port"] = newValue }
        }
        public var nodeSelector: LabelSelector? {
            get { json["nodeSelector"]?.objectValue.map(LabelSelector.init(json:)) }
            set { json["nodeSelector"] = newValue.map { .object($0.json) } }
        }
        public var holdTimeSeconds: Int? {
            get { self[int: "holdTimeSeconds"] }
            set { self[int: "holdTimeSeconds"] = newValue }
        }
        public var keepaliveTimeSeconds: Int? {
            get { self[int: "keepaliveTimeSeconds"] }
            set { self[int: "keepaliveTimeSeconds"] = newValue }
        }
        /// `bfd`: receiveIntervalMilliseconds, transmitIntervalMilliseconds, multiplier (absent: no BFD).
        public var bfd: [String: Int]? {
            get {
                json["bfd"]?.objectValue.map { object in object.compactMapValues { $0.intValue } }
            }
            set { json["bfd"] = newValue.map { .object($0.mapValues { .int(Int64($0)) }) } }
        }
        /// `passwordSecretRef`: the Secret (in the agents' namespace) and its key.
        public var passwordSecret: (name: String, key: String)? {
            get {
                guard let object = json["passwordSecretRef"]?.objectValue, let name = object["name"]?.stringValue
                else { return nil }
                return (name, object["key"]?.stringValue ?? "password")
            }
            set {
                json["passwordSecretRef"] = newValue.map {
                    .object(["name": .string($0.name), "key": .string($0.key)])
                }
            }
        }
        public var sourceAddress: String? {
            get { self[string: "sourceAddress"] }
            set { self[string: "sourceAddress"] = newValue }
        }
        public var ebgpMultihop: Int? {
            get { self[int: "ebgpMultihop"] }
            set { self[int: "ebgpMultihop"] = newValue }
        }
    }
}

extension BGPPeer {
    /// The session settings, validated (the server's schema is not trusted: an older CRD may be installed).
    /// `password`: the Secret's value, read by the caller when `passwordSecret` is set.
    public func settings(password: BGPPassword?) throws(BGPError) -> BGPPeerSpec {
        let name = (metadata.name ?? "").prefix(64)
        guard let text = spec.peerAddress, let address = try? IPAddress(text) else {
            throw BGPError(
                .invalidPeer,
                "BGPPeer \(name): spec.peerAddress \"\((spec.peerAddress ?? "").prefix(64))\" is not an IP address")
        }
        func asn(_ value: Int?, _ field: String) throws(BGPError) -> ASN {
            guard let value, let number = UInt32(exactly: value) else {
                throw BGPError(
                    .invalidASN,
                    "BGPPeer \(name): \(field) \(value.map(String.init) ?? "(missing)") "
                        + "is not an AS number (1-4294967294)")
            }
            return try ASN(number)
        }
        var source: IPAddress?
        if let text = spec.sourceAddress {
            guard let parsed = try? IPAddress(text) else {
                throw BGPError(
                    .invalidPeer, "BGPPeer \(name): spec.sourceAddress \"\(text.prefix(64))\" is not an IP address")
            }
            source = parsed
        }
        let bfd = try spec.bfd.map { (values) throws(BGPError) in
            try BFDSettings(
                receive: values["receiveIntervalMilliseconds"] ?? 300,
                transmit: values["transmitIntervalMilliseconds"] ?? 300, multiplier: values["multiplier"] ?? 3)
        }
        return try BGPPeerSpec(
            peerAddress: address, peerASN: asn(spec.peerASN, "spec.peerASN"),
            localASN: asn(spec.localASN, "spec.localASN"), port: spec.port ?? 179,
            holdTimeSeconds: spec.holdTimeSeconds ?? 90, keepaliveTimeSeconds: spec.keepaliveTimeSeconds, bfd: bfd,
            password: password, sourceAddress: source, ebgpMultihop: spec.ebgpMultihop)
    }
}
