// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

import {IAggregationLedger} from "../interfaces/IAggregationLedger.sol";
import {IReputationRegistry} from "../interfaces/IReputationRegistry.sol";
import {BLS12381} from "../libraries/BLS12381.sol";
import {CodeStore} from "../consensus/CodeStore.sol";

/// @title AggregationLedger
/// @notice BBNP aggregation ledger (DESIGN §2): GW-signed round sums, verified on-chain with the
/// EIP-2537 precompiles; in consensus mode (a reputation registry bound) every round is a block with
/// a quorum certificate of the consensus nodes (docs/CONSENSUS.md).
contract AggregationLedger is IAggregationLedger, AccessControl {
    /// @notice Accounts allowed to record rounds (the gateway's, later the primary's, chain account).
    bytes32 public constant GATEWAY_ROLE = keccak256("GATEWAY_ROLE");

    /// @dev Everything a round reads and writes besides the head digest, in ONE slot (u64 + bool +
    /// address = 29 bytes): the last round, whether any was recorded, and where the gateway key
    /// lives (a {CodeStore} blob: one EXTCODECOPY per round instead of five SLOADs).
    uint64 private _lastRound;
    bool private _anyRound;
    address private _gatewayKeyStore;

    /// @dev Consensus mode: the registry (set once) and the key epoch share a slot (20 + 4 bytes).
    IReputationRegistry private _registry;
    uint32 private _keyEpoch;

    /// @dev The digest of the last committed block. Per-round history lives in `BlockCommitted`
    /// events, chained by their previous digests.
    bytes32 private _headDigest;
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
        if (address(_registry) != address(0)) revert AggregationLedgerCertificateRequired();
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
        IReputationRegistry registry_ = _registry;
        if (address(registry_) == address(0)) revert AggregationLedgerNoRegistry();
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

        bytes32 digest = _blockDigest(block_);
        // One call: checks that the submitter is the primary, the vector's shape and the quorum,
        // stores the reputation commitment and returns the signers' aggregate key. If the pairing
        // below fails this transaction reverts, and the registry's update with it.
        bytes memory signersKey = registry_.applyBlock(
            round,
            block_.primary,
            msg.sender,
            block_.reputations,
            certificate.signers
        );
        // One multi-pairing for GW's signature and the certificate (distinct messages: 72 vs 32
        // bytes), docs/CONSENSUS.md "One multi-pairing".
        if (
            !BLS12381.tryVerifyTwoMessagesSplit(
                _gatewayKey(),
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
        _emitCommitted(block_, certificate, digest);
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
        _registry = IReputationRegistry(registry_);
        emit RegistryBound(registry_);
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
    function blockDigest(ConsensusBlock calldata block_) external view returns (bytes32) {
        return _blockDigest(block_);
    }

    function _blockDigest(ConsensusBlock calldata block_) private view returns (bytes32) {
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
                    keccak256(block_.reputations)
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
        return CodeStore.read(_gatewayKeyStore, 0, BLS12381.G1_POINT_LENGTH);
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
        _gatewayKeyStore = CodeStore.write(key);
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
