// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

import {IAggregationLedger} from "../interfaces/IAggregationLedger.sol";
import {IReputationRegistry} from "../interfaces/IReputationRegistry.sol";
import {BLS12381} from "../libraries/BLS12381.sol";
import {CodeStore} from "../consensus/CodeStore.sol";
import {ReputationVector} from "../consensus/ReputationVector.sol";
import {RoundConfig} from "../consensus/RoundConfig.sol";
import {SignerBitmap} from "../consensus/SignerBitmap.sol";

/// @title AggregationLedger
/// @notice BBNP aggregation ledger (DESIGN §2): GW-signed round sums, verified on-chain with the
/// EIP-2537 precompiles; in consensus mode (a reputation registry bound) every round is a block with
/// a quorum certificate of the consensus nodes (docs/CONSENSUS.md).
contract AggregationLedger is IAggregationLedger, AccessControl {
    /// @notice Accounts allowed to record rounds (the gateway's, later the primary's, chain account).
    bytes32 public constant GATEWAY_ROLE = keccak256("GATEWAY_ROLE");

    /// @dev Everything a round reads and writes besides the head and the reputation commitment, in
    /// ONE slot (u64 + bool + bool + address = 30 bytes): the last round, whether any was recorded,
    /// whether consensus mode is on (a registry bound) and the round-config blob ({RoundConfig}: the
    /// gateway key and, in consensus mode, the members part the registry keeps current).
    uint64 private _lastRound;
    bool private _anyRound;
    bool private _consensus;
    address private _roundConfig;

    /// @dev The registry (set once) and the key epoch share a slot (20 + 4 bytes); not read by rounds.
    IReputationRegistry private _registry;
    uint32 private _keyEpoch;

    /// @dev The digest of the last committed block. Per-round history lives in `BlockCommitted`
    /// events, chained by their previous digests.
    bytes32 private _headDigest;
    /// @dev The committed reputation vector (keccak256 of the packed vector) and its validator
    /// bitmap: written by every block and, through {setMembers}, by membership changes.
    bytes32 private _reputationsHash;
    uint256 private _validatorBitmap;
    mapping(uint64 round => RoundRecord) private _rounds;

    /// @dev Domain tag of block digests (docs/CONSENSUS.md "Block").
    bytes private constant BLOCK_TAG = "GridLedger/BBNP/block";

    /// @param admin Holder of DEFAULT_ADMIN_ROLE (grants GATEWAY_ROLE, rotates the key).
    /// @param initialGatewayKey `S_g`, EIP-2537 G1 encoding (128 bytes).
    constructor(address admin, bytes memory initialGatewayKey) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setGatewayKey(initialGatewayKey);
    }

    /// @inheritdoc IAggregationLedger
    function recordRound(
        uint64 round,
        uint256 sum,
        bytes calldata gatewaySig
    ) external onlyRole(GATEWAY_ROLE) {
        if (_consensus) revert AggregationLedgerCertificateRequired();
        if (_anyRound && round <= _lastRound)
            revert AggregationLedgerRoundNotIncreasing(_lastRound, round);
        if (sum >= BLS12381.R) revert AggregationLedgerSumOutOfRange(sum);
        if (gatewaySig.length != BLS12381.G2_POINT_LENGTH)
            revert AggregationLedgerSignatureLength(gatewaySig.length);
        // tryVerify: a malformed G2 point is reported as an invalid signature, not a library error.
        if (!BLS12381.tryVerify(_gatewayKey(), _roundMessage(round, sum), gatewaySig)) {
            revert AggregationLedgerInvalidSignature(round, sum);
        }
        _lastRound = round;
        _anyRound = true;
        _rounds[round] = RoundRecord({sum: sum, gatewaySignatureHash: keccak256(gatewaySig)});
        emit RoundRecorded(round, sum, gatewaySig);
    }

    /// @inheritdoc IAggregationLedger
    function commitBlock(
        ConsensusBlock calldata block_,
        QuorumCertificate calldata certificate
    ) external {
        if (!_consensus) revert AggregationLedgerNoRegistry();
        uint64 round = block_.round;
        if (_anyRound && round <= _lastRound)
            revert AggregationLedgerRoundNotIncreasing(_lastRound, round);
        bytes32 head = _headDigest;
        if (block_.previousDigest != head) {
            revert AggregationLedgerPreviousDigestMismatch(head, block_.previousDigest);
        }
        uint256 sum = block_.sum;
        if (sum >= BLS12381.R) revert AggregationLedgerSumOutOfRange(sum);
        if (block_.gatewaySignature.length != BLS12381.G2_POINT_LENGTH)
            revert AggregationLedgerSignatureLength(block_.gatewaySignature.length);
        if (certificate.signature.length != BLS12381.G2_POINT_LENGTH)
            revert AggregationLedgerSignatureLength(certificate.signature.length);

        // The registry's rules, checked here from the round-config blob (no registry call): the
        // submitter is the primary's account, the vector has M entries ≤ 1.0, the certificate has
        // a quorum of node signers; their aggregate key is Σ all keys − Σ non-signers' keys.
        (bytes memory gatewayKey_, bytes memory signersKey, uint256 m) = _roundMembers(
            _roundConfig,
            block_.primary,
            certificate.signers
        );
        if (block_.reputations.length != ReputationVector.BYTES * m) {
            revert IReputationRegistry.ReputationRegistryReputationsMismatch();
        }
        uint256 validators = ReputationVector.validators(block_.reputations, m);
        bytes32 reputationsHash_ = keccak256(block_.reputations);
        bytes32 digest = _blockDigest(block_, reputationsHash_);
        // One multi-pairing for GW's signature and the certificate (distinct messages: 72 vs 32
        // bytes), docs/CONSENSUS.md "One multi-pairing".
        if (
            !BLS12381.tryVerifyTwoMessagesSplit(
                gatewayKey_,
                _roundMessage(round, sum),
                signersKey,
                abi.encodePacked(digest),
                block_.gatewaySignature,
                certificate.signature
            )
        ) revert AggregationLedgerInvalidCertificate(round);

        _lastRound = round;
        _anyRound = true;
        _headDigest = digest;
        _reputationsHash = reputationsHash_;
        _validatorBitmap = validators;
        _emitCommitted(block_, certificate, digest);
    }

    /// @dev Reads the round-config blob: the gateway key, M, the primary's account (must be the
    /// caller), and the signers' aggregate key (quorum checked first).
    function _roundMembers(
        address config,
        uint256 primary,
        uint256 signers
    ) private view returns (bytes memory gatewayKey_, bytes memory signersKey, uint256 m) {
        gatewayKey_ = new bytes(BLS12381.G1_POINT_LENGTH);
        signersKey = new bytes(BLS12381.G1_POINT_LENGTH);
        address account;
        address[3] memory tables;
        (uint256 aggregateAt, uint256 countAt, uint256 accountAt) = (
            1 + RoundConfig.AGGREGATE_KEY,
            1 + RoundConfig.NODE_COUNT,
            1 + RoundConfig.ACCOUNTS + 20 * primary
        );
        assembly ("memory-safe") {
            extcodecopy(config, add(gatewayKey_, 0x20), 1, 0x80)
            extcodecopy(config, add(signersKey, 0x20), aggregateAt, 0x80)
            // M (2 bytes) and the three chunk pointers (60 bytes) into the scratch words.
            let buf := mload(0x40)
            extcodecopy(config, buf, countAt, 0x3e)
            m := shr(240, mload(buf))
            mstore(tables, shr(96, mload(add(buf, 2))))
            mstore(add(tables, 0x20), shr(96, mload(add(buf, 22))))
            mstore(add(tables, 0x40), shr(96, mload(add(buf, 42))))
            mstore(buf, 0)
            if lt(primary, m) {
                extcodecopy(config, add(buf, 12), accountAt, 20)
                account := mload(buf)
            }
        }
        if (primary >= m || account != msg.sender) {
            revert IReputationRegistry.ReputationRegistryWrongPrimary(primary, msg.sender);
        }
        uint256 q = SignerBitmap.quorum(m);
        uint256 count = SignerBitmap.popcount(signers);
        if (SignerBitmap.outside(signers, m) || count < q) {
            revert IReputationRegistry.ReputationRegistryInsufficientSigners(count, q);
        }
        uint256 missing = SignerBitmap.missing(signers, m);
        if (missing != 0) signersKey = _subtractNonSigners(signersKey, missing, tables);
    }

    /// @dev aggregate − Σ non-signer keys. Only the non-signers are visited (lowest set bit of the
    /// complement, one at a time): each costs one EXTCODECOPY of its key-table entry and a G1ADD.
    /// The keys were validated at registration (PoP: on the curve, in the subgroup), so G1ADD
    /// (on-curve check only) is sound here.
    function _subtractNonSigners(
        bytes memory aggregate,
        uint256 missing,
        address[3] memory tables
    ) private view returns (bytes memory key) {
        bool ok = true;
        bytes memory sum = new bytes(BLS12381.G1_POINT_LENGTH);
        assembly ("memory-safe") {
            let acc := add(sum, 0x20)
            let buf := mload(0x40)
            for {} missing {} {
                // Lowest set bit: its index j is a non-signer; entry 1 + j of the key table.
                let low := and(missing, sub(0, missing))
                missing := xor(missing, low)
                let e := add(bitIndex(low), 1)
                let chunk := mload(add(tables, shl(5, shr(7, e))))
                mcopy(buf, acc, 0x80)
                extcodecopy(chunk, add(buf, 0x80), add(1, shl(7, and(e, 127))), 0x80)
                // G1ADD (0x0b) costs 375 gas (EIP-2537).
                ok := and(ok, staticcall(375, 0x0b, buf, 0x100, acc, 0x80))
            }
            function bitIndex(x) -> r {
                // Index of the highest set bit (x is a power of two here), by binary search.
                r := shl(7, lt(0xffffffffffffffffffffffffffffffff, x))
                r := or(r, shl(6, lt(0xffffffffffffffff, shr(r, x))))
                r := or(r, shl(5, lt(0xffffffff, shr(r, x))))
                r := or(r, shl(4, lt(0xffff, shr(r, x))))
                r := or(r, shl(3, lt(0xff, shr(r, x))))
                r := or(r, shl(2, lt(0xf, shr(r, x))))
                r := or(r, shl(1, lt(0x3, shr(r, x))))
                r := or(r, lt(0x1, shr(r, x)))
            }
        }
        bool added;
        (added, key) = BLS12381.tryAddG1(aggregate, BLS12381.negateG1(sum));
        if (!ok || !added) revert IReputationRegistry.ReputationRegistryInvalidKey();
    }

    function _emitCommitted(
        ConsensusBlock calldata block_,
        QuorumCertificate calldata certificate,
        bytes32 digest
    ) private {
        emit BlockCommitted(
            block_.round,
            digest,
            block_.previousDigest,
            block_.sum,
            block_.gatewaySignature,
            block_.primary,
            block_.reputations,
            certificate.signers,
            certificate.signature
        );
    }

    /// @inheritdoc IAggregationLedger
    function bindRegistry(address registry_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (address(_registry) != address(0) || registry_ == address(0)) {
            revert AggregationLedgerRegistryAlreadyBound();
        }
        // The registry must push its membership changes here, so it must be bound to us first.
        if (IReputationRegistry(registry_).ledger() != address(this)) {
            revert AggregationLedgerRegistryNotBoundToLedger(registry_);
        }
        _registry = IReputationRegistry(registry_);
        _consensus = true;
        (bytes memory members, bytes32 reputationsHash_, uint256 validators) = IReputationRegistry(
            registry_
        ).roundState();
        _setMembers(members, reputationsHash_, validators);
        emit RegistryBound(registry_);
    }

    /// @inheritdoc IAggregationLedger
    function setMembers(
        bytes calldata members,
        bytes32 reputationsHash_,
        uint256 validators
    ) external {
        if (msg.sender != address(_registry) || msg.sender == address(0)) {
            revert AggregationLedgerNotRegistry(msg.sender);
        }
        _setMembers(members, reputationsHash_, validators);
    }

    function _setMembers(
        bytes memory members,
        bytes32 reputationsHash_,
        uint256 validators
    ) private {
        _roundConfig = CodeStore.write(abi.encodePacked(_gatewayKey(), members));
        _reputationsHash = reputationsHash_;
        _validatorBitmap = validators;
    }

    /// @inheritdoc IAggregationLedger
    function registry() external view returns (address) {
        return address(_registry);
    }

    /// @inheritdoc IAggregationLedger
    function headDigest() external view returns (bytes32) {
        return _headDigest;
    }

    /// @inheritdoc IAggregationLedger
    function reputationsHash() external view returns (bytes32) {
        return _reputationsHash;
    }

    /// @inheritdoc IAggregationLedger
    function validatorBitmap() external view returns (uint256) {
        return _validatorBitmap;
    }

    /// @inheritdoc IAggregationLedger
    function roundConfig() external view returns (address) {
        return _roundConfig;
    }

    /// @inheritdoc IAggregationLedger
    function blockDigest(ConsensusBlock calldata block_) external view returns (bytes32) {
        return _blockDigest(block_, keccak256(block_.reputations));
    }

    function _blockDigest(
        ConsensusBlock calldata block_,
        bytes32 reputationsHash_
    ) private view returns (bytes32) {
        return
            keccak256(
                abi.encodePacked(
                    BLOCK_TAG,
                    domainSeparator(),
                    block_.round,
                    block_.previousDigest,
                    block_.sum,
                    keccak256(block_.gatewaySignature),
                    block_.primary,
                    reputationsHash_
                )
            );
    }

    /// @inheritdoc IAggregationLedger
    function rotateGatewayKey(bytes calldata newGatewayKey) external onlyRole(DEFAULT_ADMIN_ROLE) {
        // Checked: the 2^32-th rotation would revert rather than wrap to epoch 0.
        ++_keyEpoch;
        _setGatewayKey(newGatewayKey);
    }

    /// @inheritdoc IAggregationLedger
    function gatewayKey() external view returns (bytes memory) {
        return _gatewayKey();
    }

    function _gatewayKey() private view returns (bytes memory) {
        return CodeStore.read(_roundConfig, RoundConfig.GATEWAY_KEY, BLS12381.G1_POINT_LENGTH);
    }

    /// @inheritdoc IAggregationLedger
    function gatewayKeyEpoch() external view returns (uint32) {
        return _keyEpoch;
    }

    /// @inheritdoc IAggregationLedger
    function lastRound() external view returns (uint64 round, bool any) {
        return (_lastRound, _anyRound);
    }

    /// @inheritdoc IAggregationLedger
    function roundRecord(uint64 round) external view returns (RoundRecord memory) {
        return _rounds[round];
    }

    /// @inheritdoc IAggregationLedger
    function domainSeparator() public view returns (bytes32) {
        return keccak256(abi.encodePacked(block.chainid, address(this)));
    }

    /// @inheritdoc IAggregationLedger
    function roundMessage(uint64 round, uint256 sum) external view returns (bytes memory) {
        return _roundMessage(round, sum);
    }

    function _roundMessage(uint64 round, uint256 sum) private view returns (bytes memory) {
        return abi.encodePacked(domainSeparator(), round, sum);
    }

    /// @dev A gateway key must be a subgroup point other than the identity. Checked with a proof-free
    /// test: G1MSM (which validates subgroup membership) of the key with scalar 1 must succeed and
    /// return the key itself; the identity (all zeros) is refused explicitly, since it would accept
    /// the identity signature on every message.
    function _setGatewayKey(bytes memory key) private {
        if (key.length != BLS12381.G1_POINT_LENGTH || !_isSubgroupG1(key)) {
            revert AggregationLedgerInvalidGatewayKey();
        }
        // Keep the members part (if any) of the current blob behind the new key.
        address old = _roundConfig;
        bytes memory members =
            old == address(0)
                ? new bytes(0)
                : CodeStore.read(
                    old,
                    RoundConfig.MEMBERS,
                    old.code.length - 1 - RoundConfig.MEMBERS
                );
        _roundConfig = CodeStore.write(abi.encodePacked(key, members));
        emit GatewayKeyRotated(_keyEpoch, key);
    }

    function _isSubgroupG1(bytes memory key) private view returns (bool) {
        bool nonZero;
        bool ok;
        bytes32 echoed;
        assembly ("memory-safe") {
            let p := add(key, 0x20)
            nonZero := iszero(
                iszero(
                    or(
                        or(mload(p), mload(add(p, 0x20))),
                        or(mload(add(p, 0x40)), mload(add(p, 0x60)))
                    )
                )
            )
            let buf := mload(0x40)
            mcopy(buf, p, 0x80)
            mstore(add(buf, 0x80), 1)
            // G1MSM (0x0c) with one pair costs 12000 gas (EIP-2537, k = 1, discount 1000/1000).
            ok := staticcall(12000, 0x0c, buf, 0xa0, buf, 0x80)
            echoed := keccak256(buf, 0x80)
        }
        return nonZero && ok && echoed == keccak256(key);
    }
}
