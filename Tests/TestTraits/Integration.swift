import Foundation
public import Testing

extension Tag {
    /// Needs a kube-apiserver and etcd, root, or network namespaces the test creates.
    @Tag public static var integration: Self
}

extension Trait where Self == ConditionTrait {
    /// Marks a suite or test that needs a kube-apiserver and etcd, root, or network namespaces;
    /// `scripts/test --unit` (env `KLB_TEST_UNIT_ONLY=1`) leaves these out and runs the rest.
    public static var integration: Self {
        .enabled(
            if: ProcessInfo.processInfo.environment["KLB_TEST_UNIT_ONLY"] != "1",
            "needs the API server, root or network namespaces (scripts/test --unit leaves it out)")
    }
}
