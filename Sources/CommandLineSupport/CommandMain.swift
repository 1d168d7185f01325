public import ArgumentParser
import Foundation
import KubeClient

/// Runs an executable's command with the DESIGN's exit codes: bad flags exit 2 with one line
/// naming the flag (ArgumentParser's own default would be 64), other failures exit 1.
public enum CommandMain {
    /// `arguments`: without the program name; nil reads the process's own.
    public static func run<Command: AsyncParsableCommand>(
        _ type: Command.Type, name: String, arguments: [String]? = nil
    ) async -> Never {
        do {
            // As root: a command with subcommands (the kubectl plugin) runs the one named.
            var command = try Command.parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            exit(0)
        } catch let exit as ExitCode {
            // A command's own verdict (kubectl keepalived status: 3 when something is unserved).
            Foundation.exit(exit.rawValue)
        } catch {
            let code = Command.exitCode(for: error)
            if code == .success {
                print(Command.fullMessage(for: error))
                exit(0)
            }
            // One line, whatever the operator typed: a newline in a flag value is shown escaped.
            let message = SafeText.escaped(Command.message(for: error), limit: SafeText.logValueLimit)
            FileHandle.standardError.write(Data("\(name): \(message)\n".utf8))
            exit(error is ValidationError || code == .validationFailure ? 2 : 1)
        }
    }

    /// One line on standard error and exit code 2: how to call a multi-call binary.
    public static func usage(_ line: String) -> Never {
        FileHandle.standardError.write(Data((line + "\n").utf8))
        exit(2)
    }
}
