/// One event of a watch stream.
public enum WatchEvent<T: KubernetesObject>: Sendable {
    case added(T)
    case modified(T)
    case deleted(T)
    /// Progress marker: nothing changed, but the stream has reached this resourceVersion.
    case bookmark(resourceVersion: String)

    public var object: T? {
        switch self {
        case .added(let o), .modified(let o), .deleted(let o): o
        case .bookmark: nil
        }
    }

    public var resourceVersion: String? {
        switch self {
        case .bookmark(let rv): rv
        default: object?.metadata.resourceVersion
        }
    }

    /// Decodes one watch line; an `ERROR` event (410 Gone among them) becomes a thrown `KubeError`.
    static func decode(_ line: ArraySlice<UInt8>, request: String) throws(KubeError) -> WatchEvent<T> {
        let value: JSONValue
        do { value = try JSONValue.parse(line) } catch {
            throw KubeError(.decoding, "\(request): invalid watch line: \(error)")
        }
        guard let event = value.objectValue, let type = event["type"]?.stringValue,
            let object = event["object"]?.objectValue
        else {
            throw KubeError(.decoding, "\(request): watch line without type and object")
        }
        switch type {
        case "ADDED": return .added(T(json: object))
        case "MODIFIED": return .modified(T(json: object))
        case "DELETED": return .deleted(T(json: object))
        case "BOOKMARK":
            return .bookmark(
                resourceVersion: ObjectMeta(json: object["metadata"]?.objectValue ?? [:]).resourceVersion ?? "")
        case "ERROR":
            let status = APIStatus(json: object)
            throw KubeError.from(httpStatus: status.code ?? 500, status: status, request: request)
        default:
            throw KubeError(.decoding, "\(request): unknown watch event type \(type)")
        }
    }
}
