import Testing

@testable import CloudProvider

@Suite("Service uids in the ledger")
struct ServiceUIDTests {
    @Test func aKubernetesUIDIsKeptInlineAndPrintsBackTheSame() {
        for text in [
            "0f3c9a4e-7b1d-4c2e-9a8f-1234567890ab", "00000000-0000-0000-0000-000000000000",
            "ffffffff-ffff-ffff-ffff-ffffffffffff",
        ] {
            let uid = ServiceUID(text)
            guard case .uuid = uid else {
                Issue.record("\(text) not kept as a UUID")
                continue
            }
            #expect(uid.text == text)
        }
    }

    @Test func anythingElseIsKeptAsWritten() {
        // Upper case, no hyphens, the wrong length, a test server's uid: each prints back exactly as given.
        for text in [
            "0F3C9A4E-7B1D-4C2E-9A8F-1234567890AB", "0f3c9a4e7b1d4c2e9a8f1234567890ab", "uid-web", "",
            "0f3c9a4e-7b1d-4c2e-9a8f-1234567890ag",
        ] {
            let uid = ServiceUID(text)
            #expect(uid == .text(text))
            #expect(uid.text == text)
        }
    }
}
