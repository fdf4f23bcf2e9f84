// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice Every storage shape offchain/besu/storage-layout.ts lays out — packed value types, fixed
/// bytes, static arrays of packed and full-word elements, a dynamic array of structs and of packed
/// elements, `bytes` (empty, inline < 32 bytes, and long), nested mappings with address, bytes32, uint and bytes4 keys, a struct in a mapping —
/// set by `fill` to the values test/besu/storage-layout.test.ts gives the encoder.
contract StorageLayoutHarness {
    struct Pair {
        address who;
        uint64 count;
        bool flag;
        bytes32 tag;
    }

    uint8 private _small;
    uint16 private _medium;
    address private _owner;
    bytes4 private _selector;
    uint256 private _big;
    uint32[5] private _packed;
    address[2] private _addresses;
    Pair[] private _pairs;
    mapping(address => mapping(bytes32 => uint256)) private _nested;
    mapping(uint256 => Pair) private _byId;
    mapping(bytes4 => bool) private _bySelector;
    uint128[] private _halves;
    bool private _last;
    bytes private _shortBytes;
    bytes private _longBytes;
    bytes private _emptyBytes;

    function fill() external {
        _small = 0xab;
        _medium = 0x1234;
        _owner = 0x00000000000000000000000000000000DeaDBeef;
        _selector = 0xcafebabe;
        _big = type(uint256).max - 1;
        _packed = [uint32(1), 2, 3, 0xffffffff, 5];
        _addresses = [address(0x1111), address(0x2222)];
        _pairs.push(Pair(address(0xaaaa), 7, true, keccak256("first")));
        _pairs.push(Pair(address(0xbbbb), type(uint64).max, false, keccak256("second")));
        _nested[address(0x1111)][keccak256("k")] = 42;
        _nested[address(0x2222)][bytes32(uint256(1))] = 43;
        _byId[99] = Pair(address(0xcccc), 3, true, bytes32(0));
        _bySelector[0xdeadbeef] = true;
        _halves.push(1);
        _halves.push(type(uint128).max);
        _halves.push(3);
        _last = true;
        _shortBytes = hex"0102030405";
        _longBytes = abi.encodePacked(keccak256("a"), keccak256("b"), hex"ff");
    }
}
