import Foundation
import Yams

/// Reads a kubeconfig file (the subset clients use: clusters, users, contexts).
public enum KubeConfig {
    /// Loads `path`, using `context` or the file's current-context.
    public static func load(path: String, context: String? = nil) throws(KubeError) -> ClientConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KubeError(
                .configuration, "kubeconfig \(path) cannot be read; check the --kubeconfig path and its permissions")
        }
        let directory = (path as NSString).deletingLastPathComponent
        return try parse(String(decoding: data, as: UTF8.self), path: path, baseDirectory: directory, context: context)
    }

    public static func parse(_ text: String, path: String, baseDirectory: String, context: String? = nil)
        throws(KubeError) -> ClientConfiguration
    {
        func fail(_ message: String) -> KubeError { KubeError(.configuration, "kubeconfig \(path): \(message)") }
        let root: [String: Any]
        do {
            // Every scalar stays a string (the basic resolver): the default one compiles ICU regular
            // expressions, which alone mapped ~3 MiB of ICU into every process that reads a kubeconfig.
            guard let parsed = try Yams.load(yaml: text, .basic) as? [String: Any] else {
                throw fail("not a YAML mapping")
            }
            root = parsed
        } catch let error as KubeError {
            throw error
        } catch {
            throw fail("invalid YAML: \(error)")
        }

        func named(_ list: String, _ name: String, inner: String) throws(KubeError) -> [String: Any] {
            guard let entries = root[list] as? [[String: Any]] else { throw fail("no \"\(list)\" list") }
            guard let entry = entries.first(where: { $0["name"] as? String == name }) else {
                let known = entries.compactMap { $0["name"] as? String }
                throw fail("\(list) has no entry named \"\(name)\" (known: \(known.joined(separator: ", ")))")
            }
            return entry[inner] as? [String: Any] ?? [:]
        }

        guard let contextName = context ?? (root["current-context"] as? String), !contextName.isEmpty else {
            throw fail("no current-context set and no context given; pass --context or set current-context")
        }
        let ctx = try named("contexts", contextName, inner: "context")
        guard let clusterName = ctx["cluster"] as? String else {
            throw fail("context \"\(contextName)\" names no cluster")
        }
        let cluster = try named("clusters", clusterName, inner: "cluster")
        let userName = ctx["user"] as? String
        let user = try userName.map { name throws(KubeError) in try named("users", name, inner: "user") } ?? [:]

        guard let server = cluster["server"] as? String, let url = URL(string: server), let scheme = url.scheme,
            url.host != nil
        else {
            throw fail("cluster \"\(clusterName)\": field server is missing or not a URL")
        }
        guard scheme == "https" || scheme == "http" else {
            throw fail("cluster \"\(clusterName)\": server scheme must be https or http, not \(scheme)")
        }

        func resolve(_ file: String) -> String { file.hasPrefix("/") ? file : baseDirectory + "/" + file }
        func material(_ section: [String: Any], _ sectionName: String, file fileKey: String, data dataKey: String)
            throws(KubeError) -> [UInt8]?
        {
            if let encoded = section[dataKey] as? String {
                guard let decoded = Data(base64Encoded: encoded.filter { !$0.isWhitespace }) else {
                    throw fail("\(sectionName): field \(dataKey) is not valid base64")
                }
                return Array(decoded)
            }
            if let file = section[fileKey] as? String {
                guard let contents = FileManager.default.contents(atPath: resolve(file)) else {
                    throw fail("\(sectionName): field \(fileKey) names \(resolve(file)), which cannot be read")
                }
                return Array(contents)
            }
            return nil
        }

        let clusterSection = "cluster \"\(clusterName)\""
        let userSection = "user \"\(userName ?? "")\""
        var configuration = ClientConfiguration(
            server: server.hasSuffix("/") ? String(server.dropLast()) : server,
            source: "kubeconfig \(path), context \(contextName)")
        configuration.certificateAuthorityPEM = try material(
            cluster, clusterSection, file: "certificate-authority", data: "certificate-authority-data")
        switch cluster["insecure-skip-tls-verify"] as? String {
        case nil, "false", "False", "FALSE": configuration.insecureSkipTLSVerify = false
        case "true", "True", "TRUE": configuration.insecureSkipTLSVerify = true
        case let other?: throw fail("\(clusterSection): insecure-skip-tls-verify is \"\(other)\"; use true or false")
        }
        configuration.clientCertificatePEM = try material(
            user, userSection, file: "client-certificate", data: "client-certificate-data")
        configuration.clientKeyPEM = try material(user, userSection, file: "client-key", data: "client-key-data")
        if (configuration.clientCertificatePEM == nil) != (configuration.clientKeyPEM == nil) {
            throw fail("\(userSection): client-certificate and client-key must be given together")
        }
        if let token = user["token"] as? String, !token.isEmpty {
            configuration.credentials = .token(token)
        } else if let tokenFile = user["tokenFile"] as? String, !tokenFile.isEmpty {
            configuration.credentials = .tokenFile(resolve(tokenFile))
        }
        if user["exec"] != nil || user["auth-provider"] != nil, configuration.credentials == .none,
            configuration.clientCertificatePEM == nil
        {
            throw fail(
                "\(userSection): exec and auth-provider credentials are not supported; use a token, tokenFile or "
                    + "client certificate"
            )
        }
        if let namespace = ctx["namespace"] as? String, !namespace.isEmpty { configuration.namespace = namespace }
        return configuration
    }
}
