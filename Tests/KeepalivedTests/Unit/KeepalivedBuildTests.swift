import Keepalived
import Testing

@Suite("keepalived build options")
struct KeepalivedBuildTests {
    /// Debian bookworm's keepalived 2.2.7 (`keepalived --version`, abridged).
    static let debian = """
        Keepalived v2.2.7 (01/16,2022)

        Copyright(C) 2001-2022 Alexandre Cassen, <acassen@gmail.com>

        Built with kernel headers for Linux 5.19.11
        Running on Linux 6.1.0 #1 SMP PREEMPT_DYNAMIC

        configure options: --build=x86_64-linux-gnu --prefix=/usr --enable-snmp --enable-dbus

        Config options:  NFTABLES LVS REGEX VRRP VRRP_AUTH VRRP_VMAC JSON BFD SNMP_VRRP DBUS INIT=systemd

        System options:  VSYSLOG MEMFD_CREATE LIBNL3
        """

    /// The image's keepalived (scripts/lib/image.sh): VRRP only.
    static let vrrpOnly = """
        Keepalived v2.2.7 (01/16,2022)

        Config options:  VRRP VRRP_VMAC JSON BFD OLD_CHKSUM_COMPAT INIT=SYSV

        System options:  VSYSLOG MEMFD_CREATE
        """

    @Test func aBuildWithLVSIsToldToRunVRRPAlone() throws {
        let build = try #require(KeepalivedBuild(versionOutput: Self.debian))
        #expect(build.version == "v2.2.7")
        #expect(build.options.isSuperset(of: ["LVS", "VRRP", "BFD", "INIT=systemd"]))
        #expect(build.vrrpOnlyArguments == ["--vrrp"])
    }

    @Test func aVRRPOnlyBuildGetsNoVRRPOption() throws {
        let build = try #require(KeepalivedBuild(versionOutput: Self.vrrpOnly))
        #expect(build.options.contains("VRRP") && !build.options.contains("LVS"))
        #expect(build.vrrpOnlyArguments.isEmpty)
    }

    @Test func outputThatIsNotKeepalivedsIsRejected() {
        #expect(KeepalivedBuild(versionOutput: "") == nil)
        #expect(KeepalivedBuild(versionOutput: "bash: keepalived: command not found\n") == nil)
    }

    @Test func aBuildThatPrintsNoOptionsIsTakenToHaveBoth() throws {
        let build = try #require(KeepalivedBuild(versionOutput: "Keepalived v1.3.5 (03/19,2017)\n"))
        #expect(build.vrrpOnlyArguments == ["--vrrp"])
    }
}
