import Foundation
public import IPAM
public import Keepalived
public import KubeClient

/// What a Service asks of us, read and validated from its spec and annotations.
public struct LoadBalancerRequest: Hashable, Sendable {
    /// The spec fields `init(service:…)` reads (ports only for a Service with a sharing key); the controller's
    /// Service cache keeps exactly what reconciling reads, so a field read here must be listed here.
    static let specFields: Set<String> = ["loadBalancerIP", "ipFamilies", "ipFamilyPolicy", "clusterIP", "clusterIPs"]
    static let sharingSpecFields: Set<String> = ["ports"]
    /// The annotations `init(service:…)` reads.
    static let annotations: Set<String> = [
        ForwardMethod.annotation, ControllerConfiguration.requestedIPsAnnotation, Sharing.annotation,
    ]

    public var families: [IPFamily]
    /// Specific addresses asked for (annotation or spec.loadBalancerIP); empty means any.
    public var requested: [IPAddress]
    public var forwardMethod: ForwardMethod?
    /// Set by the Service's own annotation, rather than the controller's default: only then may
    /// it change the method a Service already has (a silent switch would disrupt traffic).
    public var forwardMethodIsExplicit = false
    /// `keepalived-lb.io/sharing-key`: Services with one key share an address.
    public var sharingKey: String?
    /// The Service's protocol/port pairs (what sharing must keep apart).
    public var ports: [PortKey] = []

    public init(families: [IPFamily], requested: [IPAddress] = [], forwardMethod: ForwardMethod? = nil) {
        self.families = families
        self.requested = requested
        self.forwardMethod = forwardMethod
    }

    public init(service: Service, pool: Pool, defaultForwardMethod: ForwardMethod?) throws(ServiceRefusal) {
        try self.init(
            service: service, families: pool.families, poolName: pool.name, defaultForwardMethod: defaultForwardMethod)
    }

    /// `families`: what the pools this Service may use offer; `poolName` names them in messages.
    public init(
        service: Service, families available: [IPFamily], poolName: String, defaultForwardMethod: ForwardMethod?
    )
        throws(ServiceRefusal)
    {
        let annotations = service.metadata.annotations
        forwardMethodIsExplicit = annotations[ForwardMethod.annotation] != nil
        if let key = annotations[Sharing.annotation] {
            guard Sharing.validate(key) else {
                throw ServiceRefusal(
                    .invalidSharingKey,
                    "annotation \(Sharing.annotation) \"\(key.prefix(64))\": use 1-63 letters, digits, '-', "
                        + "'_' or '.'")
            }
            sharingKey = key
        }
        ports = PortKey.of(service)
        do {
            forwardMethod =
                try annotations[ForwardMethod.annotation].map { value throws(KeepalivedError) in
                    try ForwardMethod(parsing: value, source: "annotation \(ForwardMethod.annotation)")
                } ?? defaultForwardMethod
        } catch {
            throw ServiceRefusal(.invalidForwardMethod, error.message)
        }

        var requested: [IPAddress] = []
        let source: String
        if let list = annotations[ControllerConfiguration.requestedIPsAnnotation],
            !list.trimmingCharacters(in: .whitespaces).isEmpty
        {
            source = "annotation \(ControllerConfiguration.requestedIPsAnnotation)"
            // Every comma-separated item must be an address: ",," is a mistake, not "any address".
            for item in list.split(separator: ",", omittingEmptySubsequences: false) {
                let text = item.trimmingCharacters(in: .whitespaces)
                do { requested.append(try IPAddress(text)) } catch {
                    throw ServiceRefusal(.invalidRequestedIP, "\(source): \(error.message)")
                }
            }
        } else if let ip = service.spec.loadBalancerIP, !ip.isEmpty {
            source = "spec.loadBalancerIP"
            do { requested.append(try IPAddress(ip)) } catch {
                throw ServiceRefusal(.invalidRequestedIP, "\(source): \(error.message)")
            }
        } else {
            source = ""
        }
        if requested.count > 2 || Set(requested.map(\.family)).count != requested.count {
            throw ServiceRefusal(
                .invalidRequestedIP,
                "\(source) lists \(requested.map(\.description).joined(separator: ", ")); give at most one IPv4 "
                    + "and one IPv6 address"
            )
        }
        self.requested = requested

        let own = Self.families(of: service)
        if let stray = requested.first(where: { !own.isEmpty && !own.contains($0.family) }) {
            let basis = (service.spec.ipFamilies ?? []).isEmpty ? "its ClusterIP" : "spec.ipFamilies"
            throw ServiceRefusal(
                .ipFamilyMismatch,
                "\(source) asks for \(stray) (\(stray.family.rawValue)), but the Service is "
                    + "\(own.map(\.rawValue).joined(separator: "/")) only (by \(basis)); kube-proxy would never "
                    + "serve that "
                    + "address. Request an \(own[0].rawValue) address, or make the Service dual-stack with "
                    + "ipFamilyPolicy"
            )
        }

        if !requested.isEmpty {
            families = requested.map(\.family)
            return
        }
        let primary = own.first ?? .ipv4
        switch service.spec.ipFamilyPolicy ?? .singleStack {
        case .requireDualStack:
            let missing = IPFamily.allCases.filter { !available.contains($0) }
            guard missing.isEmpty else {
                throw ServiceRefusal(
                    .dualStackUnavailable,
                    "ipFamilyPolicy RequireDualStack, but pool \(poolName) has no "
                        + "\(missing.map(\.rawValue).joined(separator: "/")) addresses; add a CIDR of that "
                        + "family or use PreferDualStack"
                )
            }
            families = [primary, primary == .ipv4 ? .ipv6 : .ipv4]
        case .preferDualStack:
            families = [primary, primary == .ipv4 ? .ipv6 : .ipv4].filter { available.contains($0) }
            if families.isEmpty { families = [primary] }
        case .singleStack:
            families = [primary]
        }
    }

    /// The families the Service itself has: `spec.ipFamilies`, else those of its ClusterIPs (a
    /// server without dual-stack drops `ipFamilies`); empty when neither says (headless).
    static func families(of service: Service) -> [IPFamily] {
        let declared = (service.spec.ipFamilies ?? []).compactMap { IPFamily(rawValue: $0) }
        if !declared.isEmpty { return declared }
        let clusterIPs = service.spec.clusterIPs ?? service.spec.clusterIP.map { [$0] } ?? []
        var families: [IPFamily] = []
        for text in clusterIPs {
            if let address = try? IPAddress(text), !families.contains(address.family) {
                families.append(address.family)
            }
        }
        return families
    }
}
