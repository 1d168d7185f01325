import Errors
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// An error declared the way every module declares its own: codes named once, the shape from `CodedError`.
private struct SampleError: CodedError {
    typealias Code = ErrorCode<SampleError>
    let code: Code
    let message: String
    var detail = 0

    init(_ code: Code, _ message: String, detail: Int = 0) {
        (self.code, self.message, self.detail) = (code, message, detail)
    }
}

private enum SampleErrorName: String {
    case first = "FirstThing"
    case second = "SecondThing"
}

extension ErrorCode where Domain == SampleError {
    fileprivate static var first: Self { Self(SampleErrorName.first) }
    fileprivate static var second: Self { Self(SampleErrorName.second) }
}

@Suite("The error shape")
struct CodedErrorTests {
    @Test func anErrorPrintsItsCodeNameThenItsMessage() {
        let error = SampleError(.second, "the pool is full; add a CIDR")
        #expect("\(error)" == "SecondThing: the pool is full; add a CIDR")
        #expect(error.code.description == "SecondThing")
    }

    @Test func codesCompareAsValuesAndMatchInSwitches() {
        let error = SampleError(.first, "x")
        #expect(error.code == .first)
        #expect(error.code != .second)
        let matched: String
        switch error.code {
        case .second: matched = "second"
        case .first: matched = "first"
        default: matched = "none"
        }
        #expect(matched == "first")
        // Everything an error carries takes part in equality, the code as much as the rest.
        #expect(SampleError(.first, "x") == SampleError(.first, "x"))
        #expect(SampleError(.first, "x") != SampleError(.second, "x"))
        #expect(SampleError(.first, "x", detail: 1) != SampleError(.first, "x"))
    }

    @Test func aSystemCallErrorKeepsTheErrnoOfTheFailedCall() {
        let fd = open("/nonexistent/klb-errors-test", O_RDONLY)
        let failure = SystemCallError("open /nonexistent/klb-errors-test")
        #expect(fd == -1)
        #expect(failure.errnoCode == ENOENT)
        #expect("\(failure)" == "open /nonexistent/klb-errors-test: No such file or directory")
    }

    @Test func aSystemCallErrorTakesAReturnedErrorNumber() {
        let failure = SystemCallError("posix_spawn /x", errnoCode: EACCES)
        #expect(failure.reason == "Permission denied")
        #expect(failure == SystemCallError("posix_spawn /x", errnoCode: EACCES))
        #expect(failure != SystemCallError("posix_spawn /x", errnoCode: EPERM))
    }
}
