import ArgumentParser
import Foundation

/// Runs an executable's command with the DESIGN's exit codes: bad flags exit 2 with one line
/// naming the flag (ArgumentParser's own default would be 64), other failures exit 1.
public enum CommandMain {
    public static func run<Command: AsyncParsableCommand>(_ type: Command.Type, name: String) async -> Never {
        do {
            var command = try Command.parse()
            try await command.run()
            exit(0)
        } catch {
            let code = Command.exitCode(for: error)
            if code == .success {
                print(Command.fullMessage(for: error))
                exit(0)
            }
            FileHandle.standardError.write(Data("\(name): \(Command.message(for: error))\n".utf8))
            exit(error is ValidationError || code == .validationFailure ? 2 : 1)
        }
    }
}
