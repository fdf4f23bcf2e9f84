// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {EntryDigest} from "../../contracts/libraries/EntryDigest.sol";
import {SchnorrVerifier} from "../../contracts/libraries/SchnorrVerifier.sol";
import {CryptoHarness} from "../../contracts/mocks/CryptoHarness.sol";
import {TestBase} from "../helpers/TestBase.sol";

/// @notice Fuzz tests of the entry digest (DESIGN §4.4) against an independent byte layout, and of
/// the Schnorr verifier's malformed-input rejections (DESIGN §4.3): `false`, never a revert.
contract EntryDigestTest is TestBase {
    uint256 internal constant N = SchnorrVerifier.N;
    uint256 internal constant P =
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F;

    CryptoHarness internal harness;

    function setUp() public {
        harness = new CryptoHarness();
    }

    /// @dev The 85-byte preimage written out byte by byte (no abi.encodePacked), big-endian.
    function referenceDigest(
        bytes32 domain,
        uint8 kind,
        uint32 interval,
        bytes32 id,
        uint64 timestamp,
        uint64 value
    ) internal pure returns (bytes32) {
        bytes memory buf = new bytes(85);
        for (uint256 i; i < 32; ++i) buf[i] = domain[i];
        buf[32] = bytes1(kind);
        for (uint256 i; i < 4; ++i) buf[33 + i] = bytes1(uint8(interval >> (8 * (3 - i))));
        for (uint256 i; i < 32; ++i) buf[37 + i] = id[i];
        for (uint256 i; i < 8; ++i) buf[69 + i] = bytes1(uint8(timestamp >> (8 * (7 - i))));
        for (uint256 i; i < 8; ++i) buf[77 + i] = bytes1(uint8(value >> (8 * (7 - i))));
        return keccak256(buf);
    }

    function testFuzz_digest_matchesByteLayout(
        uint256 chainId,
        address ledger,
        uint8 kind,
        uint32 interval,
        bytes32 id,
        uint64 timestamp,
        uint64 value
    ) public pure {
        kind = uint8(bound(kind, 0, 2));
        bytes memory domainPre = new bytes(52);
        for (uint256 i; i < 32; ++i) domainPre[i] = bytes1(uint8(chainId >> (8 * (31 - i))));
        for (uint256 i; i < 20; ++i) {
            domainPre[32 + i] = bytes1(uint8(uint160(ledger) >> (8 * (19 - i))));
        }
        bytes32 domain = EntryDigest.domainSeparator(chainId, ledger);
        assertEq(domain, keccak256(domainPre), "domain layout");
        assertEq(
            EntryDigest.digest(domain, kind, interval, id, timestamp, value),
            referenceDigest(domain, kind, interval, id, timestamp, value),
            "digest layout"
        );
    }

    function testFuzz_digest_separatesChainsAndLedgers(
        uint256 chainId,
        address ledger,
        bytes32 id
    ) public pure {
        vm.assume(chainId != type(uint256).max && ledger != address(type(uint160).max));
        bytes32 a = EntryDigest.digest(
            EntryDigest.domainSeparator(chainId, ledger),
            0,
            1,
            id,
            2,
            3
        );
        bytes32 b = EntryDigest.digest(
            EntryDigest.domainSeparator(chainId + 1, ledger),
            0,
            1,
            id,
            2,
            3
        );
        bytes32 c = EntryDigest.digest(
            EntryDigest.domainSeparator(chainId, address(uint160(ledger) + 1)),
            0,
            1,
            id,
            2,
            3
        );
        assertTrue(a != b && a != c, "domain separation");
    }

    function test_digest_edgeValues() public pure {
        bytes32 domain = EntryDigest.domainSeparator(31337, address(0xBEEF));
        assertEq(
            EntryDigest.digest(
                domain,
                2,
                type(uint32).max,
                bytes32(type(uint256).max),
                type(uint64).max,
                type(uint64).max
            ),
            referenceDigest(
                domain,
                2,
                type(uint32).max,
                bytes32(type(uint256).max),
                type(uint64).max,
                type(uint64).max
            ),
            "max values"
        );
    }

    /// @dev Arbitrary prefixes other than 2 and 3 are refused (external call: a revert fails).
    function testFuzz_tryVerify_badPrefixIsFalse(
        uint8 prefix,
        uint256 x,
        bytes32 m,
        address r,
        uint256 y
    ) public view {
        vm.assume(prefix != 2 && prefix != 3);
        assertFalse(harness.tryVerify(prefix, x, m, r, y), "bad prefix");
    }

    function testFuzz_tryVerify_yOutOfRangeIsFalse(
        bool odd,
        uint256 x,
        bytes32 m,
        address r,
        uint256 y
    ) public view {
        y = bound(y, N, type(uint256).max);
        assertFalse(harness.tryVerify(odd ? 3 : 2, x, m, r, y), "y >= n");
        assertFalse(harness.tryVerify(odd ? 3 : 2, x, m, r, 0), "y = 0");
    }

    function testFuzz_tryVerify_xOutOfRangeIsFalse(
        bool odd,
        uint256 x,
        bytes32 m,
        address r,
        uint256 y
    ) public view {
        x = bound(x, N, type(uint256).max);
        assertFalse(harness.tryVerify(odd ? 3 : 2, x, m, r, y), "x >= n");
        assertFalse(harness.tryVerify(odd ? 3 : 2, 0, m, r, y), "x = 0");
        assertFalse(harness.tryVerify(odd ? 3 : 2, P, m, r, y), "x = p");
    }

    function testFuzz_tryVerify_zeroRAddrIsFalse(
        bool odd,
        uint256 x,
        bytes32 m,
        uint256 y
    ) public view {
        assertFalse(harness.tryVerify(odd ? 3 : 2, x, m, address(0), y), "zero rAddr");
    }

    /// @dev Any in-range input (valid point or not) returns without reverting; a random one is
    /// false (forging needs addr(y·G − c·Z) = rAddr, probability 2^-160).
    function testFuzz_tryVerify_randomInRangeIsFalseNeverReverts(
        bool odd,
        uint256 x,
        bytes32 m,
        address r,
        uint256 y
    ) public view {
        x = bound(x, 1, N - 1);
        y = bound(y, 1, N - 1);
        vm.assume(r != address(0));
        assertFalse(harness.tryVerify(odd ? 3 : 2, x, m, r, y), "random input");
    }

    /// @dev x = 5 is not an x-coordinate on secp256k1 (5³ + 7 is not a square mod p): ecrecover
    /// fails and returns address(0), which the verifier never accepts.
    function testFuzz_tryVerify_xNotOnCurveIsFalse(bytes32 m, address r, uint256 y) public view {
        y = bound(y, 1, N - 1);
        assertFalse(harness.tryVerify(2, 5, m, r, y), "x not on curve");
        assertFalse(harness.tryVerify(3, 5, m, r, y), "x not on curve (odd)");
    }

    function test_verify_revertsWithCustomError() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                SchnorrVerifier.SchnorrVerifierInvalidSignature.selector,
                uint8(2),
                uint256(5),
                bytes32(uint256(1))
            )
        );
        harness.verify(2, 5, bytes32(uint256(1)), address(1), 1);
    }
}
