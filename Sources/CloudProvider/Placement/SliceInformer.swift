import KubeClient

/// The slice informer of the version the server serves.
enum SliceInformer: Sendable {
    case v1(Informer<EndpointSlice>)
    case v1beta1(Informer<EndpointSliceV1Beta1>)

    typealias Found = (service: ObjectKey, slice: ObjectKey, nodes: LocalEndpoints.SliceNodes)

    func contains(_ key: ObjectKey) async -> Bool {
        switch self {
        case .v1(let informer): await informer.get(key) != nil
        case .v1beta1(let informer): await informer.get(key) != nil
        }
    }

    /// The slices the API server has now, in the version this informer watches.
    func list(_ client: any KubernetesAPI, namespace: String?, options: ListOptions) async throws(KubeError)
        -> [Found]
    {
        switch self {
        case .v1:
            try await client.list(EndpointSlice.self, namespace: namespace, options: options).items
                .compactMap(LocalEndpoints.read)
        case .v1beta1:
            try await client.list(EndpointSliceV1Beta1.self, namespace: namespace, options: options).items
                .compactMap(LocalEndpoints.read)
        }
    }
}
