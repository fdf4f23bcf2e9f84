// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {TestBase} from "../helpers/TestBase.sol";
import {ParticipantDirectory} from "../../contracts/access/ParticipantDirectory.sol";
import {
    IParticipantDirectory,
    PublicKey
} from "../../contracts/interfaces/IParticipantDirectory.sol";
import {SchnorrVerifier} from "../../contracts/libraries/SchnorrVerifier.sol";

/// @notice The directory alone, with the test contract as admin, CC and SP; exposes the key hash.
contract DirectoryHarness is ParticipantDirectory {
    constructor(address who) ParticipantDirectory(who, who, who) {}

    function keyHash(PublicKey calldata key) external pure returns (bytes32) {
        return _keyHash(key);
    }
}

/// @notice Fuzz tests of the meter directory's one-slot layout (keyHash → index + 1): the
/// assembly key hash equals keccak256(abi.encodePacked(prefix, x)); every registered key looks up
/// to its index; a key registered twice (in one call or two) reverts naming its first index; the
/// negated point (other prefix, same x) is a different key; invalid keys revert.
contract ParticipantDirectoryFuzzTest is TestBase {
    DirectoryHarness private dir;

    function setUp() public {
        dir = new DirectoryHarness(address(this));
    }

    /// @dev A valid key: prefix 2 or 3, x in [1, n − 1].
    function _key(uint256 seed) private pure returns (PublicKey memory) {
        uint256 x = bound(uint256(keccak256(abi.encode(seed, "x"))), 1, SchnorrVerifier.N - 1);
        return PublicKey({prefix: uint8(2 + (seed & 1)), x: x});
    }

    function testFuzz_keyHash_isPackedKeccak(uint8 prefix, uint256 x) public view {
        assertEq(
            dir.keyHash(PublicKey({prefix: prefix, x: x})),
            keccak256(abi.encodePacked(prefix, x)),
            "keyHash"
        );
    }

    function testFuzz_register_looksUpEveryIndex(uint256 seed, uint256 n) public {
        n = bound(n, 1, 24);
        PublicKey[] memory keys = new PublicKey[](n);
        for (uint256 i = 0; i < n; ++i) keys[i] = _key(uint256(keccak256(abi.encode(seed, i))));
        assertEq(dir.registerMeters(keys), 0, "first index");
        assertEq(dir.meterCount(), n, "count");
        for (uint256 i = 0; i < n; ++i) {
            (bool registered, uint32 index) = dir.meterIndexOf(keys[i]);
            assertTrue(registered, "registered");
            assertEq(index, i, "index");
        }
        // A second call continues the numbering.
        PublicKey[] memory more = new PublicKey[](1);
        more[0] = _key(uint256(keccak256(abi.encode(seed, "more"))));
        assertEq(dir.registerMeters(more), n, "second call's first index");
    }

    function testFuzz_register_refusesDuplicates(uint256 seed, uint256 n, uint256 dup) public {
        n = bound(n, 1, 16);
        PublicKey[] memory keys = new PublicKey[](n);
        for (uint256 i = 0; i < n; ++i) keys[i] = _key(uint256(keccak256(abi.encode(seed, i))));
        dir.registerMeters(keys);
        uint256 first = bound(dup, 0, n - 1);
        PublicKey memory again = keys[first];
        // Across calls.
        PublicKey[] memory one = new PublicKey[](1);
        one[0] = again;
        vm.expectRevert(
            abi.encodeWithSelector(
                IParticipantDirectory.ParticipantDirectoryMeterRegistered.selector,
                again.prefix,
                again.x,
                uint32(first)
            )
        );
        dir.registerMeters(one);
        // Within one call: the second copy reverts naming the index the first copy just got.
        PublicKey[] memory pair = new PublicKey[](2);
        pair[0] = _key(uint256(keccak256(abi.encode(seed, "fresh"))));
        pair[1] = pair[0];
        vm.expectRevert(
            abi.encodeWithSelector(
                IParticipantDirectory.ParticipantDirectoryMeterRegistered.selector,
                pair[0].prefix,
                pair[0].x,
                uint32(n)
            )
        );
        dir.registerMeters(pair);
        assertEq(dir.meterCount(), n, "count unchanged by reverted calls");
    }

    function testFuzz_negatedPoint_isAnotherKey(uint256 seed) public {
        PublicKey[] memory keys = new PublicKey[](1);
        keys[0] = _key(seed);
        dir.registerMeters(keys);
        PublicKey memory negated = PublicKey({prefix: keys[0].prefix == 2 ? 3 : 2, x: keys[0].x});
        (bool registered, ) = dir.meterIndexOf(negated);
        assertFalse(registered, "negation not registered");
        keys[0] = negated;
        assertEq(dir.registerMeters(keys), 1, "negation registers as a new meter");
    }

    function testFuzz_register_refusesInvalidKeys(uint8 prefix, uint256 x) public {
        vm.assume((prefix != 2 && prefix != 3) || x == 0 || x >= SchnorrVerifier.N);
        PublicKey[] memory keys = new PublicKey[](1);
        keys[0] = PublicKey({prefix: prefix, x: x});
        vm.expectRevert(
            abi.encodeWithSelector(
                IParticipantDirectory.ParticipantDirectoryInvalidKey.selector,
                prefix,
                x
            )
        );
        dir.registerMeters(keys);
    }
}
