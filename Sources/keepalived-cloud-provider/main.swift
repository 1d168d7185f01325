import ArgumentParser
import Foundation

// Bad flags exit with status 2 and one line naming the flag, as the DESIGN contract asks
// (ArgumentParser's own default would be 64).
do {
    let command = try CloudProviderCommand.parse()
    try await command.run()
} catch {
    let code = CloudProviderCommand.exitCode(for: error)
    if code == .success {
        print(CloudProviderCommand.fullMessage(for: error))
        exit(0)
    }
    FileHandle.standardError.write(Data("keepalived-cloud-provider: \(CloudProviderCommand.message(for: error))\n".utf8))
    exit(error is ValidationError || code == .validationFailure ? 2 : 1)
}
