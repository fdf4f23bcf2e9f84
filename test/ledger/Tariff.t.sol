// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {TestBase} from "../helpers/TestBase.sol";
import {Tariff} from "../../contracts/libraries/Tariff.sol";
import {EntryDigest} from "../../contracts/libraries/EntryDigest.sol";
import {OcdBatch} from "../../contracts/libraries/OcdBatch.sol";

/// @notice Fuzz tests of the tariff math (monotone, capped, equal to a reference) and of the
/// billing ledger's digests (assembly digest == EntryDigest.digest; running digest order-sensitive).
contract TariffFuzzTest is TestBase {
    /// @dev A valid random tariff with 1..6 breakpoints.
    function _tariff(
        uint256 seed
    ) internal pure returns (uint64[] memory b, uint64[] memory v, uint64 cap) {
        uint256 k = bound(seed, 1, 6);
        b = new uint64[](k);
        v = new uint64[](k);
        uint256 x = 0;
        uint256 value = uint256(keccak256(abi.encode(seed, "v0"))) % 1000;
        for (uint256 i = 0; i < k; ++i) {
            if (i > 0) {
                x += 1 + (uint256(keccak256(abi.encode(seed, i, "dx"))) % 1_000_000);
                value += uint256(keccak256(abi.encode(seed, i, "dv"))) % 5000;
            }
            b[i] = uint64(x);
            v[i] = uint64(value);
        }
        cap = uint64(1 + (uint256(keccak256(abi.encode(seed, "cap"))) % 40_000));
    }

    /// @dev Reference: for each segment, the exact rational value floored, found by scanning all
    /// segments from the right (a different search than the library's).
    function _reference(
        uint64[] memory b,
        uint64[] memory v,
        uint64 cap,
        uint256 x
    ) internal pure returns (uint256 price) {
        uint256 k = b.length;
        price = v[k - 1];
        for (uint256 s = k - 1; s > 0; --s) {
            if (x < b[s]) {
                uint256 i = s - 1;
                if (x >= b[i]) {
                    price = v[i] + ((uint256(v[s]) - v[i]) * (x - b[i])) / (b[s] - b[i]);
                }
            }
        }
        if (price > cap) price = cap;
    }

    function testFuzz_priceMatchesReference(uint256 seed, uint256 x) public pure {
        (uint64[] memory b, uint64[] memory v, uint64 cap) = _tariff(seed);
        x = bound(x, 0, uint256(b[b.length - 1]) + 2_000_000);
        assertEq(Tariff.evaluate(b, v, cap, x), _reference(b, v, cap, x), "price == reference");
    }

    function testFuzz_priceMonotoneAndCapped(uint256 seed, uint256 x, uint256 dx) public pure {
        (uint64[] memory b, uint64[] memory v, uint64 cap) = _tariff(seed);
        x = bound(x, 0, type(uint64).max);
        dx = bound(dx, 0, type(uint64).max);
        uint64 p1 = Tariff.evaluate(b, v, cap, x);
        uint64 p2 = Tariff.evaluate(b, v, cap, x + dx);
        assertLe(p1, p2, "non-decreasing in the aggregate");
        assertLe(p2, cap, "capped");
    }

    function testFuzz_priceAtBreakpointsIsTheValue(uint256 seed, uint256 i) public pure {
        (uint64[] memory b, uint64[] memory v, uint64 cap) = _tariff(seed);
        i = bound(i, 0, b.length - 1);
        uint256 expected = v[i] < cap ? v[i] : cap;
        assertEq(Tariff.evaluate(b, v, cap, b[i]), expected, "f(x_i) = min(v_i, cap)");
    }

    function validateExternal(uint64[] calldata b, uint64[] calldata v, uint64 cap) external pure {
        Tariff.validate(b, v, cap);
    }

    function testFuzz_generatedTariffsValidate(uint256 seed) public view {
        (uint64[] memory b, uint64[] memory v, uint64 cap) = _tariff(seed);
        this.validateExternal(b, v, cap);
    }

    function testFuzz_assemblyDigestEqualsEntryDigest(
        bytes32 domain,
        uint8 kind,
        uint32 interval,
        bytes32 id,
        uint64 ts,
        uint64 value
    ) public pure {
        assertEq(
            OcdBatch.digest(domain, kind, interval, id, ts, value),
            EntryDigest.digest(domain, kind, interval, id, ts, value),
            "OcdBatch.digest == EntryDigest.digest"
        );
    }

    function testFuzz_chainIsKeccakOfPackedStep(bytes32 acc, bytes32 id, uint64 c) public pure {
        assertEq(OcdBatch.chain(acc, id, c), keccak256(abi.encodePacked(acc, id, c)), "chain step");
    }

    /// @dev Swapping two different entries changes the running digest: bills must follow OCD order.
    function testFuzz_chainOrderSensitive(
        bytes32 id1,
        bytes32 id2,
        uint64 c1,
        uint64 c2
    ) public pure {
        vm.assume(id1 != id2 || c1 != c2);
        bytes32 forward = OcdBatch.chain(OcdBatch.chain(0, id1, c1), id2, c2);
        bytes32 swapped = OcdBatch.chain(OcdBatch.chain(0, id2, c2), id1, c1);
        assertTrue(forward != swapped, "order matters");
    }
}
