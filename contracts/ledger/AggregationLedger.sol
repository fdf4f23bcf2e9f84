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
    /// ONE slot (u64 + bool + bool + address + bool + bool = 32 bytes): the last round, whether any
    /// was recorded, whether consensus mode is on (a registry bound), the round-config blob
    /// ({RoundConfig}: the gateway key and, in consensus mode, the members part the registry keeps
    /// current, with the membership epoch), whether commits are paused for a pending membership
    /// change, and whether a primary selection is recorded for the next commit (`_selection`; every
    /// commit and membership change clears it, so a round without one pays no extra slot).
    uint64 private _lastRound;
    bool private _anyRound;
    bool private _consensus;
    address private _roundConfig;
    bool private _membershipPaused;
    bool private _selectionPending;

    /// @dev The registry (set once) and the key epoch share a slot (20 + 4 bytes); not read by rounds.
    IReputationRegistry private _registry;
    uint32 private _keyEpoch;
    /// @dev Round configuration: the minimum number of counted reporters (DESIGN §4.7), in the same
    /// slot as the registry and key epoch (20 + 4 + 4 bytes).
    uint32 private _minReporters;

    /// @dev The default of `minReporters()`: a household among at least nine others.
    uint32 private constant DEFAULT_MIN_REPORTERS = 10;

    /// @dev The digest of the last committed block. Per-round history lives in `BlockCommitted`
    /// events, chained by their previous digests.
    bytes32 private _headDigest;
    /// @dev The committed reputation vector (keccak256 of the packed vector) and its validator
    /// bitmap: written by every block and, through {setMembers}, by membership changes.
    bytes32 private _reputationsHash;
    uint256 private _validatorBitmap;
    mapping(uint64 round => RoundRecord) private _rounds;

    /// @dev The recorded primary selection (docs/CONSENSUS.md "Primary selection at commit time"),
    /// ONE slot read by every `commitBlock`: u64 round ‖ u16 primary ‖ u64 valid-until block ‖
    /// u8 recorded ‖ the low 96 bits of the head digest it was made under (its seed), from the low
    /// end.
    uint256 private _selection;
    /// @dev The open reveal window: the round, the block it opened at, the two timeouts (blocks).
    uint64 private _openedRound;
    uint64 private _openedAt;
    uint16 private _revealTimeoutBlocks;
    uint16 private _primaryWindowBlocks;
    /// @dev The head digest when the reveal window opened (a window opened under an older head,
    /// e.g. before the previous round committed, does not count).
    bytes32 private _openedHead;

    /// @dev Defaults of the selection timeouts (blocks; 2-second Besu blocks: 10 s and 20 s).
    uint16 private constant DEFAULT_REVEAL_TIMEOUT_BLOCKS = 5;
    uint16 private constant DEFAULT_PRIMARY_WINDOW_BLOCKS = 10;
    uint256 private constant SELECTION_PRIMARY_SHIFT = 64;
    uint256 private constant SELECTION_UNTIL_SHIFT = 80;
    uint256 private constant SELECTION_RECORDED_SHIFT = 144;
    uint256 private constant SELECTION_HEAD_SHIFT = 152;

    /// @param admin Holder of DEFAULT_ADMIN_ROLE (grants GATEWAY_ROLE, rotates the key).
    /// @param initialGatewayKey `S_g`, EIP-2537 G1 encoding (128 bytes).
    constructor(address admin, bytes memory initialGatewayKey) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _minReporters = DEFAULT_MIN_REPORTERS;
        _revealTimeoutBlocks = DEFAULT_REVEAL_TIMEOUT_BLOCKS;
        _primaryWindowBlocks = DEFAULT_PRIMARY_WINDOW_BLOCKS;
        _setGatewayKey(initialGatewayKey);
    }

    /// @inheritdoc IAggregationLedger
    function recordRound(
        uint64 round,
        uint256 sum,
        uint32 reporters,
        bytes calldata gatewaySig
    ) external onlyRole(GATEWAY_ROLE) {
        if (_consensus) revert AggregationLedgerCertificateRequired();
        if (_anyRound && round <= _lastRound)
            revert AggregationLedgerRoundNotIncreasing(_lastRound, round);
        uint32 min = _minReporters;
        if (reporters < min) revert AggregationLedgerTooFewReporters(round, reporters, min);
        if (sum >= BLS12381.R) revert AggregationLedgerSumOutOfRange(sum);
        if (gatewaySig.length != BLS12381.G2_POINT_LENGTH)
            revert AggregationLedgerSignatureLength(gatewaySig.length);
        // tryVerify: a malformed G2 point is reported as an invalid signature, not a library error.
        if (!BLS12381.tryVerify(_gatewayKey(), _roundMessage(round, sum, reporters), gatewaySig)) {
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
        // The round slot, read once (with the head and the round-config blob, the only cold
        // accesses of a round).
        uint256 slot0;
        assembly ("memory-safe") {
            slot0 := sload(_lastRound.slot)
        }
        // One branch for both refusals on the hot path: not in consensus mode, or paused.
        if ((slot0 >> CONSENSUS_SHIFT) & 0xff == 0 || (slot0 >> PAUSED_SHIFT) & 0xff != 0) {
            if ((slot0 >> CONSENSUS_SHIFT) & 0xff == 0) revert AggregationLedgerNoRegistry();
            revert AggregationLedgerMembershipChangePending();
        }
        uint64 round = block_.round;
        {
            uint64 last = uint64(slot0);
            if ((slot0 >> ANY_ROUND_SHIFT) & 0xff != 0 && round <= last) {
                revert AggregationLedgerRoundNotIncreasing(last, round);
            }
        }
        bytes32 head = _headDigest;
        if (block_.previousDigest != head) {
            revert AggregationLedgerPreviousDigestMismatch(head, block_.previousDigest);
        }
        if (slot0 >> SELECTION_PENDING_SHIFT != 0) _consumeSelection(round, block_.primary, head);
        if (block_.sum >= BLS12381.R) revert AggregationLedgerSumOutOfRange(block_.sum);
        // The byte strings, decoded (offsets validated) once.
        bytes calldata reputations = block_.reputations;
        uint256 gatewaySig = _checkedG2(block_.gatewaySignature);
        uint256 certificateSig = _checkedG2(certificate.signature);

        // The registry's rules, checked from the round-config blob (no registry call): the
        // block's epoch is the current membership epoch, the submitter is the primary's account, a
        // quorum of nodes signed, the vector has M entries ≤ 1.0. `pairs`: the 3-pair pairing
        // input `S_g ‖ H(m_GW) ‖ apk ‖ H(digest) ‖ −g1 ‖ σ_GW + σ_cert` (0x480 bytes), filled in
        // place.
        (uint256 m, uint256 pairs) = _loadRoundMembers(
            address(uint160(slot0 >> CONFIG_SHIFT)),
            block_.primary,
            certificate.signers,
            block_.epoch
        );
        // The count GW signed (σ_GW covers it: the pairing below fails for a restated count).
        _checkReporters(address(uint160(slot0 >> CONFIG_SHIFT)), m, round, block_.reporters);
        if (reputations.length != ReputationVector.BYTES * m) {
            revert IReputationRegistry.ReputationRegistryReputationsMismatch();
        }
        uint256 validators = ReputationVector.validators(reputations, m);
        uint256 log = _eventData(
            block_,
            certificate.signers,
            gatewaySig,
            certificateSig,
            reputations
        );
        (bytes32 digest, bytes32 reputationsHash_) = _hashes(block_, log, pairs);
        // One multi-pairing for GW's signature and the certificate (distinct messages: 72 vs 32
        // bytes), docs/CONSENSUS.md "One multi-pairing".
        if (!BLS12381.pairing3At(pairs)) revert AggregationLedgerInvalidCertificate(round);

        assembly ("memory-safe") {
            // Round slot: the new round and any = true, the selection flag cleared (a selection
            // binds one commit); the consensus flag, config pointer and pause flag kept.
            sstore(
                _lastRound.slot,
                or(
                    and(slot0, not(or(0xffffffffffffffffff, shl(SELECTION_PENDING_SHIFT, 0xff)))),
                    or(round, shl(ANY_ROUND_SHIFT, 1))
                )
            )
        }
        _headDigest = digest;
        _reputationsHash = reputationsHash_;
        _validatorBitmap = validators;
        _emitCommitted(log, round);
    }

    /// @dev Called only while a selection is pending (recorded since the last commit). While it is
    /// in its primary window, the block must be of the selected round and by the selected primary
    /// (docs/CONSENSUS.md "Primary selection at commit time"; none recorded, or the window over:
    /// any member, as the submitter check allows). Then clears the slot: the refund for zeroing it
    /// pays for its cold read and write (net ≈ 200 gas), the commit clears the pending flag.
    function _consumeSelection(uint64 round, uint256 primary, bytes32 head) private {
        uint256 selection = _selection;
        if (
            uint96(selection >> SELECTION_HEAD_SHIFT) == uint96(uint256(head)) &&
            block.number < uint64(selection >> SELECTION_UNTIL_SHIFT)
        ) {
            uint64 selectedRound = uint64(selection);
            uint16 selected = uint16(selection >> SELECTION_PRIMARY_SHIFT);
            if (round != selectedRound || primary != selected) {
                revert AggregationLedgerNotSelectedPrimary(
                    selectedRound,
                    selected,
                    round,
                    uint16(primary)
                );
            }
        }
        _selection = 0;
    }

    /// @inheritdoc IAggregationLedger
    function openPrimarySelection(uint64 round) external {
        if (!_consensus) revert AggregationLedgerNoRegistry();
        if (_anyRound && round <= _lastRound) {
            revert AggregationLedgerRoundNotIncreasing(_lastRound, round);
        }
        bytes32 head = _headDigest;
        if (_openedRound == round && _openedHead == head && _openedAt != 0) {
            revert AggregationLedgerSelectionAlreadyOpen(round);
        }
        _openedRound = round;
        _openedAt = uint64(block.number);
        _openedHead = head;
        emit PrimarySelectionOpened(round, uint64(block.number));
    }

    /// @inheritdoc IAggregationLedger
    function recordPrimarySelection(
        uint64 round,
        bytes calldata reputations,
        IReputationRegistry.Reveals calldata reveals
    ) external {
        if (!_consensus) revert AggregationLedgerNoRegistry();
        bytes32 head = _headDigest;
        uint256 previous = _selection;
        if (
            _selectionPending &&
            uint64(previous) == round &&
            uint96(previous >> SELECTION_HEAD_SHIFT) == uint96(uint256(head))
        ) revert AggregationLedgerSelectionAlreadyRecorded(round);
        bool afterTimeout =
            _openedRound == round &&
                _openedHead == head &&
                _openedAt != 0 &&
                block.number >= uint256(_openedAt) + _revealTimeoutBlocks;
        (bool ok, uint256 primary) = _registry.selectedPrimary(
            round,
            reputations,
            reveals,
            afterTimeout
        );
        if (!ok) revert AggregationLedgerInvalidPrimarySelection(round);
        uint64 until = uint64(block.number) + _primaryWindowBlocks;
        _selection =
            uint256(round) |
            (primary << SELECTION_PRIMARY_SHIFT) |
            (uint256(until) << SELECTION_UNTIL_SHIFT) |
            (uint256(1) << SELECTION_RECORDED_SHIFT) |
            (uint256(uint96(uint256(head))) << SELECTION_HEAD_SHIFT);
        _selectionPending = true;
        emit PrimarySelectionRecorded(
            round,
            uint16(primary),
            reveals.revealers,
            afterTimeout,
            until
        );
    }

    /// @inheritdoc IAggregationLedger
    function setSelectionTimeouts(
        uint16 revealTimeoutBlocks,
        uint16 primaryWindowBlocks
    ) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (revealTimeoutBlocks == 0 || primaryWindowBlocks == 0) {
            revert AggregationLedgerSelectionTimeoutsInvalid(
                revealTimeoutBlocks,
                primaryWindowBlocks
            );
        }
        _revealTimeoutBlocks = revealTimeoutBlocks;
        _primaryWindowBlocks = primaryWindowBlocks;
        emit SelectionTimeoutsSet(revealTimeoutBlocks, primaryWindowBlocks);
    }

    /// @inheritdoc IAggregationLedger
    function selectionTimeouts()
        external
        view
        returns (uint16 revealTimeoutBlocks, uint16 primaryWindowBlocks)
    {
        return (_revealTimeoutBlocks, _primaryWindowBlocks);
    }

    /// @inheritdoc IAggregationLedger
    function primarySelection()
        external
        view
        returns (uint64 round, uint16 primary, uint64 validUntilBlock, bool recorded)
    {
        uint256 s = _selection;
        bool current =
            _selectionPending && uint96(s >> SELECTION_HEAD_SHIFT) == uint96(uint256(_headDigest));
        return (
            uint64(s),
            uint16(s >> SELECTION_PRIMARY_SHIFT),
            uint64(s >> SELECTION_UNTIL_SHIFT),
            current && (s >> SELECTION_RECORDED_SHIFT) & 0xff != 0
        );
    }

    /// @dev Bit offsets in the round slot (`_lastRound` u64 ‖ `_anyRound` ‖ `_consensus` ‖
    /// `_roundConfig` ‖ `_membershipPaused` ‖ `_selectionPending`, packed from the low end).
    uint256 private constant ANY_ROUND_SHIFT = 64;
    uint256 private constant CONSENSUS_SHIFT = 72;
    uint256 private constant CONFIG_SHIFT = 80;
    uint256 private constant PAUSED_SHIFT = 240;
    uint256 private constant SELECTION_PENDING_SHIFT = 248;

    /// @dev Allocates the pairing input (0x480 bytes) and fills S_g and the signers' key `apk` from
    /// the round-config blob, and −g1. Checks the block's membership epoch, that the submitter is
    /// the primary's account and the certificate's quorum (the registry's rules). Returns M and the
    /// pairing input's address.
    function _loadRoundMembers(
        address config,
        uint256 primary,
        uint256 signers,
        uint32 epoch
    ) private view returns (uint256 m, uint256 pairs) {
        address account;
        uint32 current;
        address[3] memory tables;
        uint256 accountAt = 1 + RoundConfig.ACCOUNTS + 20 * primary;
        assembly ("memory-safe") {
            pairs := mload(0x40)
            mstore(0x40, add(pairs, 0x480))
            // S_g → pair 1's G1 slot; Σ keys → pair 2's (blob offsets + 1: the leading STOP).
            extcodecopy(config, pairs, 1, 0x80)
            extcodecopy(config, add(pairs, 0x180), 0x81, 0x80)
            // M (2 bytes) and the key-table chunk pointers (60 bytes), via the scratch words.
            extcodecopy(config, 0x00, 0x101, 0x3e)
            m := shr(240, mload(0x00))
            mstore(tables, shr(96, mload(0x02)))
            mstore(add(tables, 0x20), shr(96, mload(0x16)))
            mstore(add(tables, 0x40), shr(96, mload(0x2a)))
            mstore(0x00, 0)
            mstore(0x20, 0)
            // The membership epoch (u32) into the low bytes of the second scratch word.
            extcodecopy(config, 0x3c, add(1, EPOCH_OFFSET), 4)
            current := mload(0x20)
            if lt(primary, m) {
                extcodecopy(config, 0x0c, accountAt, 20)
                account := mload(0x00)
            }
        }
        BLS12381.writeNegG1At(pairs + 0x300);
        if (epoch != current) revert AggregationLedgerMembershipEpochMismatch(current, epoch);
        if (primary >= m || account != msg.sender) {
            revert IReputationRegistry.ReputationRegistryWrongPrimary(primary, msg.sender);
        }
        uint256 q = SignerBitmap.quorum(m);
        uint256 count = SignerBitmap.popcount(signers);
        if (SignerBitmap.outside(signers, m) || count < q) {
            revert IReputationRegistry.ReputationRegistryInsufficientSigners(count, q);
        }
        uint256 missing = SignerBitmap.missing(signers, m);
        if (missing != 0) _subtractNonSigners(pairs + 0x180, missing, tables);
        // apk = identity would accept the identity signature part on every digest.
        bool identity;
        assembly ("memory-safe") {
            let k := add(pairs, 0x180)
            identity := iszero(
                or(or(mload(k), mload(add(k, 0x20))), or(mload(add(k, 0x40)), mload(add(k, 0x60))))
            )
        }
        if (identity) revert IReputationRegistry.ReputationRegistryInvalidKey();
    }

    /// @dev Reverts `AggregationLedgerTooFewReporters` if `reporters` (the count σ_GW covers) is
    /// below the minimum in the round-config blob's trailer (the u32 after the M accounts; the
    /// blob's address is warm here, so this costs one warm EXTCODECOPY instead of a cold SLOAD).
    function _checkReporters(
        address config,
        uint256 m,
        uint64 round,
        uint32 reporters
    ) private view {
        uint256 min;
        assembly ("memory-safe") {
            mstore(0x00, 0)
            extcodecopy(config, 0x1c, add(add(1, ACCOUNTS_OFFSET), mul(20, m)), 4)
            min := mload(0x00)
        }
        if (reporters < min) revert AggregationLedgerTooFewReporters(round, reporters, uint32(min));
    }

    /// @dev Must equal {RoundConfig.EPOCH} and {RoundConfig.ACCOUNTS} (literals: inline assembly
    /// takes only those).
    uint256 private constant EPOCH_OFFSET = 318;
    uint256 private constant ACCOUNTS_OFFSET = 322;

    /// @dev The calldata offset of a 256-byte G2 point (reverts on another length).
    function _checkedG2(bytes calldata point) private pure returns (uint256 offset) {
        if (point.length != BLS12381.G2_POINT_LENGTH) {
            revert AggregationLedgerSignatureLength(point.length);
        }
        assembly ("memory-safe") {
            offset := point.offset
        }
    }

    /// @dev Allocates and writes σ_GW ‖ σ_cert (EIP-2537, 0x200 bytes) and, after them, the
    /// BlockCommitted event data (ABI layout, signatures compressed; the digest word left for
    /// {_hashes}), then reserves 0x100 bytes for the hashed messages. Returns the data's address
    /// (σ_GW ‖ σ_cert are at log − 0x200; the messages at log + 0x240 + the padded vector).
    function _eventData(
        ConsensusBlock calldata block_,
        uint256 signers,
        uint256 gatewaySig,
        uint256 certificateSig,
        bytes calldata reputations
    ) private pure returns (uint256 log) {
        uint256 padded = _pad32(reputations.length);
        assembly ("memory-safe") {
            let sigs := mload(0x40)
            log := add(sigs, 0x200)
            mstore(0x40, add(add(log, add(0x240, padded)), 0x100))
            calldatacopy(sigs, gatewaySig, 0x100)
            calldatacopy(add(sigs, 0x100), certificateSig, 0x100)
            // digest (later), previousDigest, sum, →gatewaySignature, primary, →reputations,
            // signers, →certificateSignature, reporters (validated u32 by the caller); then the
            // three byte strings.
            mstore(add(log, 0x20), calldataload(add(block_, 0x20)))
            mstore(add(log, 0x40), calldataload(add(block_, 0x40)))
            mstore(add(log, 0x60), 0x120)
            mstore(add(log, 0x80), calldataload(add(block_, 0x80)))
            mstore(add(log, 0xa0), 0x1a0)
            mstore(add(log, 0xc0), signers)
            mstore(add(log, 0xe0), add(0x1c0, padded))
            mstore(add(log, 0x100), calldataload(add(block_, 0xe0)))
            mstore(add(log, 0x120), 96)
            mstore(add(log, 0x1a0), reputations.length)
            mstore(add(log, add(0x1a0, padded)), 0) // the vector's zero padding
            calldatacopy(add(log, 0x1c0), reputations.offset, reputations.length)
            mstore(add(log, add(0x1c0, padded)), 96)
        }
        unchecked {
            // Memory addresses: no overflow.
            BLS12381.compressG2At(log - 0x200, log + 0x140);
            BLS12381.compressG2At(log - 0x100, log + 0x1e0 + padded);
        }
    }

    /// @dev Fills the rest of the pairing input at `pairs` (H(m_GW), H(digest), σ_GW + σ_cert) from
    /// the memory laid out by {_eventData}, writes the digest into the event data. Returns the
    /// block digest and keccak256 of the packed vector.
    function _hashes(
        ConsensusBlock calldata block_,
        uint256 log,
        uint256 pairs
    ) private view returns (bytes32 digest, bytes32 reputationsHash_) {
        uint256 message;
        bytes32 domain = domainSeparator();
        assembly ("memory-safe") {
            let repsLength := mload(add(log, 0x1a0))
            reputationsHash_ := keccak256(add(log, 0x1c0), repsLength)
            message := add(log, add(0x240, and(add(repsLength, 31), not(31))))
            // m_GW = domain ‖ u64 round ‖ u256 sum ‖ u32 reporters (76 bytes, `roundMessage`).
            mstore(message, domain)
            mstore(add(message, 0x20), shl(192, calldataload(block_)))
            mstore(add(message, 0x28), calldataload(add(block_, 0x40)))
            mstore(add(message, 0x48), shl(224, calldataload(add(block_, 0xe0))))
        }
        unchecked {
            // Memory addresses: no overflow.
            bool ok = BLS12381.hashToG2SigAt(message, 76, pairs + 0x80);
            digest = _digestAt(
                block_,
                domain,
                _keccakAt(log - 0x200, 0x100),
                reputationsHash_,
                message
            );
            assembly ("memory-safe") {
                mstore(log, digest)
                mstore(message, digest)
            }
            ok = ok && BLS12381.hashToG2SigAt(message, 32, pairs + 0x200);
            assembly ("memory-safe") {
                // σ_GW + σ_cert into pair 3 (G2ADD; checks that both are on the curve, not the
                // subgroup: docs/CONSENSUS.md "One multi-pairing").
                ok := and(
                    ok,
                    staticcall(G2ADD_GAS, 0x0d, sub(log, 0x200), 0x200, add(pairs, 0x380), 0x100)
                )
            }
            if (!ok) revert AggregationLedgerInvalidCertificate(block_.round);
        }
    }

    /// @dev The block digest (docs/CONSENSUS.md "Block") from its parts, built at `scratch`:
    /// "GridLedger/BBNP/block" (21 B) ‖ domain ‖ u64 round ‖ previousDigest ‖ u256 sum ‖
    /// keccak(σ_GW) ‖ u16 primary ‖ keccak(vector) ‖ u32 epoch ‖ u32 reporters, 199 bytes. The one implementation,
    /// used by `commitBlock` and the `blockDigest` view (both tested against
    /// offchain/consensus/block.ts).
    function _digestAt(
        ConsensusBlock calldata block_,
        bytes32 domain,
        bytes32 gatewaySignatureHash,
        bytes32 reputationsHash_,
        uint256 scratch
    ) private pure returns (bytes32 digest) {
        assembly ("memory-safe") {
            mstore(scratch, BLOCK_TAG_WORD)
            mstore(add(scratch, 21), domain)
            mstore(add(scratch, 53), shl(192, calldataload(block_)))
            mstore(add(scratch, 61), calldataload(add(block_, 0x20)))
            mstore(add(scratch, 93), calldataload(add(block_, 0x40)))
            mstore(add(scratch, 125), gatewaySignatureHash)
            mstore(add(scratch, 157), shl(240, calldataload(add(block_, 0x80))))
            mstore(add(scratch, 159), reputationsHash_)
            mstore(add(scratch, 191), shl(224, calldataload(add(block_, 0xc0))))
            mstore(add(scratch, 195), shl(224, calldataload(add(block_, 0xe0))))
            digest := keccak256(scratch, 199)
        }
    }

    /// @dev Gas forwarded to EIP-2537 precompiles ({BLS12381}: the Prague price times a headroom,
    /// capped by the EVM at 63/64 of what is left; every call's success is checked).
    /// Literals (inline assembly takes only those) that must equal `BLS12381.G1ADD_GAS_LIMIT`,
    /// `G2ADD_GAS_LIMIT` and `G1MSM1_GAS_LIMIT` (4 × 375, 4 × 600, 4 × 12,000).
    uint256 private constant G1ADD_GAS = 1_500;
    uint256 private constant G2ADD_GAS = 2_400;
    uint256 private constant G1MSM1_GAS = 48_000;

    /// @dev The domain tag of block digests, "GridLedger/BBNP/block" (21 bytes; `BLOCK_TAG` of
    /// offchain/consensus/block.ts), left-aligned in a word.
    bytes32 private constant BLOCK_TAG_WORD =
        0x477269644c65646765722f42424e502f626c6f636b0000000000000000000000;

    function _keccakAt(uint256 ptr, uint256 length) private pure returns (bytes32 hash) {
        assembly ("memory-safe") {
            hash := keccak256(ptr, length)
        }
    }

    function _pad32(uint256 n) private pure returns (uint256) {
        // Checked by the caller: n = 4·M ≤ 1024.
        return (n + 31) & ~uint256(31);
    }

    /// @dev Emits BlockCommitted(round, …) with the data laid out by {_hashesAndEventData}.
    function _emitCommitted(uint256 log, uint64 round) private {
        bytes32 topic = BlockCommitted.selector;
        assembly ("memory-safe") {
            let dataLength := add(0x240, and(add(mload(add(log, 0x1a0)), 31), not(31)))
            log2(log, dataLength, topic, round)
        }
    }

    /// @dev apk −= Σ non-signer keys, in place at `apk` (EIP-2537 G1). Only the non-signers are
    /// visited (lowest set bit of the complement, one at a time): each costs one EXTCODECOPY of its
    /// key-table entry and a G1ADD into the running sum. The keys were validated at registration
    /// (PoP: on the curve, in the subgroup), so G1ADD (on-curve check only) is sound here.
    function _subtractNonSigners(
        uint256 apk,
        uint256 missing,
        address[3] memory tables
    ) private view {
        bool ok = true;
        bytes memory sum = new bytes(2 * BLS12381.G1_POINT_LENGTH);
        assembly ("memory-safe") {
            // buf = Σ so far (starts as the identity: zeros) ‖ the next key; G1ADD writes the new
            // sum over the first half.
            let buf := add(sum, 0x20)
            for {} missing {} {
                let low := and(missing, sub(0, missing))
                missing := xor(missing, low)
                // Index j of the lowest set bit = popcount(low − 1) (SWAR); entry 1 + j.
                let x := sub(low, 1)
                x := sub(
                    x,
                    and(
                        shr(1, x),
                        0x5555555555555555555555555555555555555555555555555555555555555555
                    )
                )
                x := add(
                    and(x, 0x3333333333333333333333333333333333333333333333333333333333333333),
                    and(
                        shr(2, x),
                        0x3333333333333333333333333333333333333333333333333333333333333333
                    )
                )
                x := and(
                    add(x, shr(4, x)),
                    0x0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f
                )
                x := and(
                    add(x, shr(8, x)),
                    0x00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff
                )
                let e := add(
                    shr(
                        240,
                        mul(x, 0x0001000100010001000100010001000100010001000100010001000100010001)
                    ),
                    1
                )
                let chunk := mload(add(tables, shl(5, shr(7, e))))
                extcodecopy(chunk, add(buf, 0x80), add(1, shl(7, and(e, 127))), 0x80)
                ok := and(ok, staticcall(G1ADD_GAS, 0x0b, buf, 0x100, buf, 0x80))
            }
        }
        bytes memory negated = BLS12381.negateG1(_prefix128(sum));
        assembly ("memory-safe") {
            // apk + (−Σ) with G1ADD, back into apk.
            let buf := mload(0x40)
            mcopy(buf, apk, 0x80)
            mcopy(add(buf, 0x80), add(negated, 0x20), 0x80)
            ok := and(ok, staticcall(G1ADD_GAS, 0x0b, buf, 0x100, apk, 0x80))
        }
        if (!ok) revert IReputationRegistry.ReputationRegistryInvalidKey();
    }

    /// @dev The first 128 bytes of `b` as a `bytes` of length 128 (shortens `b` in place).
    function _prefix128(bytes memory b) private pure returns (bytes memory) {
        assembly ("memory-safe") {
            mstore(b, 0x80)
        }
        return b;
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

    /// @inheritdoc IAggregationLedger
    function pauseForMembershipChange() external {
        if (msg.sender != address(_registry) || msg.sender == address(0)) {
            revert AggregationLedgerNotRegistry(msg.sender);
        }
        _membershipPaused = true;
    }

    /// @inheritdoc IAggregationLedger
    function membershipChangePending() external view returns (bool) {
        return _membershipPaused;
    }

    function _setMembers(
        bytes memory members,
        bytes32 reputationsHash_,
        uint256 validators
    ) private {
        _writeRoundConfig(_gatewayKey(), members);
        _membershipPaused = false;
        // A selection names a node by index under the old membership.
        _selectionPending = false;
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
        bytes calldata gatewaySig = block_.gatewaySignature;
        bytes calldata reputations = block_.reputations;
        bytes32 gatewaySignatureHash = _calldataKeccak(gatewaySig);
        bytes32 reputationsHash_ = _calldataKeccak(reputations);
        uint256 scratch;
        assembly ("memory-safe") {
            scratch := mload(0x40)
            mstore(0x40, add(scratch, 0x100))
        }
        return
            _digestAt(block_, domainSeparator(), gatewaySignatureHash, reputationsHash_, scratch);
    }

    function _calldataKeccak(bytes calldata data) private pure returns (bytes32 hash) {
        assembly ("memory-safe") {
            let p := mload(0x40)
            calldatacopy(p, data.offset, data.length)
            hash := keccak256(p, data.length)
        }
    }

    /// @inheritdoc IAggregationLedger
    function rotateGatewayKey(bytes calldata newGatewayKey) external onlyRole(DEFAULT_ADMIN_ROLE) {
        // Checked: the 2^32-th rotation would revert rather than wrap to epoch 0.
        ++_keyEpoch;
        _setGatewayKey(newGatewayKey);
    }

    /// @inheritdoc IAggregationLedger
    function setMinReporters(uint32 minReporters_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (minReporters_ < 2) revert AggregationLedgerMinReportersTooLow(minReporters_);
        _minReporters = minReporters_;
        // commitBlock reads the minimum from the round-config blob: rewrite it.
        _writeRoundConfig(_gatewayKey(), _membersPart(_roundConfig));
        emit MinReportersSet(minReporters_);
    }

    /// @inheritdoc IAggregationLedger
    function minReporters() external view returns (uint32) {
        return _minReporters;
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
    function roundMessage(
        uint64 round,
        uint256 sum,
        uint32 reporters
    ) external view returns (bytes memory) {
        return _roundMessage(round, sum, reporters);
    }

    function _roundMessage(
        uint64 round,
        uint256 sum,
        uint32 reporters
    ) private view returns (bytes memory) {
        return abi.encodePacked(domainSeparator(), round, sum, reporters);
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
        _writeRoundConfig(key, _membersPart(_roundConfig));
        emit GatewayKeyRotated(_keyEpoch, key);
    }

    /// @dev Writes the round-config blob: the gateway key, the members part (empty in gateway-only
    /// mode) and the minimum of counted reporters (u32, {RoundConfig} "trailer").
    function _writeRoundConfig(bytes memory key, bytes memory members) private {
        _roundConfig = CodeStore.write(abi.encodePacked(key, members, _minReporters));
    }

    /// @dev The members part of the blob at `config` (empty for none or a gateway-only blob).
    function _membersPart(address config) private view returns (bytes memory) {
        if (config == address(0)) return new bytes(0);
        // The code: a leading STOP, the key, the members part, the u32 minimum.
        uint256 length =
            config.code.length - 1 - RoundConfig.MEMBERS - RoundConfig.MIN_REPORTERS_LENGTH;
        return CodeStore.read(config, RoundConfig.MEMBERS, length);
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
            ok := staticcall(G1MSM1_GAS, 0x0c, buf, 0xa0, buf, 0x80)
            echoed := keccak256(buf, 0x80)
        }
        return nonZero && ok && echoed == keccak256(key);
    }
}
