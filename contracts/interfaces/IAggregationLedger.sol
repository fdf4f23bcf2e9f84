// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IReputationRegistry} from "./IReputationRegistry.sol";

/// @title IAggregationLedger
/// @notice The BBNP aggregation ledger (DESIGN §2 "Aggregation ledger", §4.7, §4.8): one record per
/// round `t` holding the aggregate `sum` (an element of Z_r) that the gateway GW learned from the
/// masked reports and BLS-signed with its key `s_g` (public key `S_g = s_g·g1`, min-pk: G1 key, G2
/// signature). The signed message is `domain ‖ u64 round ‖ u256 sum ‖ u32 reporters` with
/// `domain = keccak256(u256 chainid ‖ address(this))` (`bbnpRoundMessage` in
/// offchain/protocol/aggregation.ts), so a signature never replays to another round, chain or
/// deployment, and the count of reporters the ledger checks against `minReporters()` is GW's own
/// statement in both modes (no relayer or consensus primary can restate it).
/// @dev Gateway-only mode keeps the sum and a hash of the signature per round; the `RoundRecorded`
/// event carries the signature itself, so any client can re-verify the ledger from logs alone. In
/// consensus mode a round's only record is its `BlockCommitted` event (chained by digests) and the
/// head digest: `roundRecord` stays empty for certified rounds (storing it would cost ≈ 44,000 gas
/// per round, docs/CONSENSUS.md "Gas").
interface IAggregationLedger {
    /// @notice What the ledger stores per gateway-only round (`recordRound`). Certified rounds
    /// (`commitBlock`) are not stored here: their record is the `BlockCommitted` event.
    struct RoundRecord {
        /// The aggregate consumption of the round, mod r.
        uint256 sum;
        /// keccak256 of the 256-byte EIP-2537 gateway signature (non-zero iff the round is recorded).
        bytes32 gatewaySignatureHash;
    }

    /// @notice A BBNP consensus block (DESIGN §5.1; docs/CONSENSUS.md "Block"). Its digest is
    /// `keccak256("GridLedger/BBNP/block" ‖ domain ‖ u64 round ‖ previousDigest ‖ u256 sum ‖
    /// keccak256(gatewaySignature) ‖ u16 primary ‖ keccak256(reputations) ‖ u32 epoch ‖
    /// u32 reporters)` (`blockDigest`), and the consensus nodes BLS-sign the 32-byte digest. The membership epoch
    /// binds the certificate (signer bitmap, vector positions, primary index) to the membership it
    /// was made under: after any membership change the block no longer commits.
    struct ConsensusBlock {
        /// The round number `t`, strictly above the last recorded round.
        uint64 round;
        /// The digest of the last committed block (zero for the first).
        bytes32 previousDigest;
        /// The aggregate, mod r.
        uint256 sum;
        /// GW's BLS signature on `roundMessage(round, sum, reporters)`, EIP-2537 G2 (256 bytes).
        bytes gatewaySignature;
        /// Index of the round's primary in the reputation registry (the submitter's node).
        uint16 primary;
        /// The new reputation vector: one u32 per node in units of 1e-9 (4 bytes big-endian).
        bytes reputations;
        /// The membership epoch the block was built under (`IReputationRegistry.membershipEpoch`;
        /// the ledger's copy is in its round-config blob).
        uint32 epoch;
        /// The number of users counted in `sum`, as GW signed it (σ_GW covers it); at least
        /// `minReporters()` or `commitBlock` reverts `AggregationLedgerTooFewReporters`.
        uint32 reporters;
    }

    /// @notice A quorum certificate: the sum of ≥ quorum() nodes' BLS signatures on the block
    /// digest and the signer bitmap (DESIGN §2). The signers' aggregate key is formed on-chain from
    /// the registry's key table (aggregate of all keys minus the non-signers').
    struct QuorumCertificate {
        /// Bit j set iff node j signed.
        uint256 signers;
        /// Σ σ_j over the signers, EIP-2537 G2 (256 bytes).
        bytes signature;
    }

    /// @notice A certified block was committed. Carries everything needed to re-verify the block
    /// and its certificate from logs alone (non-signer keys come from the registry's events).
    /// @param gatewaySignature σ_GW in the 96-byte ZCash/IETF compressed form (the off-chain
    /// encoding of offchain/crypto/bls.ts; half the log data of EIP-2537's 256 bytes). The digest
    /// hashes the EIP-2537 form: `g2ToEip2537(gatewaySignature)`.
    /// @param reputations The packed vector (u32 per node, units of 1e-9).
    /// @param certificateSignature σ_cert, 96-byte compressed like `gatewaySignature`.
    /// @param reporters The count of reporters GW signed (part of σ_GW's message).
    event BlockCommitted(
        uint64 indexed round,
        bytes32 digest,
        bytes32 previousDigest,
        uint256 sum,
        bytes gatewaySignature,
        uint16 primary,
        bytes reputations,
        uint256 signers,
        bytes certificateSignature,
        uint32 reporters
    );

    /// @notice The reputation registry was bound (once); from then on only certified blocks
    /// (`commitBlock`) are recorded.
    event RegistryBound(address registry);

    /// @notice A round was recorded.
    /// @param round The round number `t`.
    /// @param sum The aggregate, mod r.
    /// @param gatewaySignature GW's BLS signature (EIP-2537 G2, 256 bytes) on the round message.
    event RoundRecorded(uint64 indexed round, uint256 sum, bytes gatewaySignature);

    /// @notice The gateway key changed (key-epoch refresh, DESIGN §4.7 dropouts).
    /// @param epoch The new key epoch (0 is the constructor's key).
    /// @param gatewayKey The new key `S_g` (EIP-2537 G1, 128 bytes).
    event GatewayKeyRotated(uint32 indexed epoch, bytes gatewayKey);

    /// @notice `round` is not above the last recorded round. Rounds are strictly increasing: record
    /// the next round (any round is accepted while nothing has been recorded).
    error AggregationLedgerRoundNotIncreasing(uint64 lastRound, uint64 round);
    /// @notice `sum` is not an element of Z_r (it must be `< r`); reduce it mod r before signing.
    error AggregationLedgerSumOutOfRange(uint256 sum);
    /// @notice The signature is not 256 bytes (an EIP-2537 G2 point); convert with `g2ToEip2537`.
    error AggregationLedgerSignatureLength(uint256 length);
    /// @notice The signature does not verify under the current gateway key on this deployment's
    /// round message (wrong round, sum, key, chain or ledger; or a malformed G2 point).
    error AggregationLedgerInvalidSignature(uint64 round, uint256 sum);
    /// @notice The gateway key is not a valid G1 point of the prime-order subgroup other than the
    /// identity (128-byte EIP-2537 encoding); convert with `g1ToEip2537`.
    error AggregationLedgerInvalidGatewayKey();
    /// @notice The round counts fewer reporters than `minReporters()` (DESIGN §4.7): a sum over so
    /// few readings would publish individual readings. The gateway aborts such a round itself
    /// (`TooFewReportersError`); nothing is recorded.
    error AggregationLedgerTooFewReporters(uint64 round, uint32 reporters, uint32 minReporters);
    /// @notice `setMinReporters`: the minimum must be at least 2 (one reporter is its own sum).
    error AggregationLedgerMinReportersTooLow(uint32 minReporters);

    /// @notice The minimum number of counted reporters per round changed (admin).
    event MinReportersSet(uint32 minReporters);

    /// @notice The ledger is bound to a reputation registry: rounds need a quorum certificate; call
    /// `commitBlock`.
    error AggregationLedgerCertificateRequired();
    /// @notice No reputation registry is bound yet (admin: `bindRegistry`).
    error AggregationLedgerNoRegistry();
    /// @notice The registry is already bound or the address is zero.
    error AggregationLedgerRegistryAlreadyBound();
    /// @notice The block does not extend the head: its previous digest differs from `headDigest()`.
    error AggregationLedgerPreviousDigestMismatch(bytes32 head, bytes32 previousDigest);
    /// @notice `bindRegistry`: the registry is not bound to this ledger (call its `bindLedger` first,
    /// so that it reports membership changes here).
    error AggregationLedgerRegistryNotBoundToLedger(address registry);
    /// @notice `setMembers` was called by an account other than the bound registry.
    error AggregationLedgerNotRegistry(address caller);
    /// @notice The block was built under membership epoch `epoch`, but the membership is now at
    /// `current` (a node was added or removed since): rebuild and re-certify it under `current`.
    error AggregationLedgerMembershipEpochMismatch(uint32 current, uint32 epoch);
    /// @notice A membership change is pending (it raced a commit): commits resume once the
    /// regulator applies it (`IReputationRegistry.applyMembershipChange`).
    error AggregationLedgerMembershipChangePending();
    /// @notice GW's signature and the certificate do not verify together (wrong sum, round,
    /// block content, signer set or signature; or a malformed point).
    error AggregationLedgerInvalidCertificate(uint64 round);

    /// @notice Commits a certified block (consensus mode): no membership change pending, rounds
    /// strictly increasing, the block extends the head, `sum < r`, the block's epoch is the current
    /// membership epoch, the submitter is the block's primary, the certificate has at least
    /// `quorum()` signers, the block's `reporters` (covered by σ_GW) is at least `minReporters()`
    /// (else `AggregationLedgerTooFewReporters`), and ONE 3-pair pairing check verifies GW's signature and the certificate
    /// together: `e(S_g, H(m_GW))·e(apk, H(digest)) = e(g1, σ_GW + σ_cert)` (docs/CONSENSUS.md).
    /// σ_GW is not checked for subgroup membership on-chain (≈ 22,500 gas): the digest commits to
    /// it and every quorum holds f + 1 honest nodes that verified it with the subgroup check before
    /// signing. The submitter must be the account of the block's `primary`; while a selection
    /// recorded for this round under the current head is within its primary window
    /// (`recordPrimarySelection`), `primary` must be the selected one
    /// (`AggregationLedgerNotSelectedPrimary`); with none recorded, or after the window, any
    /// member's block is accepted (liveness; docs/CONSENSUS.md "Primary selection at commit time"). Stores the new head, the reputation commitment and the validator bitmap.
    /// The registry's rules are checked here from the round-config blob and revert with the
    /// registry's errors (`ReputationRegistryWrongPrimary`, `…ReputationsMismatch`,
    /// `…InsufficientSigners`, `…ReputationOutOfRange`).
    function commitBlock(
        ConsensusBlock calldata block_,
        QuorumCertificate calldata certificate
    ) external;

    /// @notice A round's reveal window opened (`openPrimarySelection`) at block `atBlock`.
    event PrimarySelectionOpened(uint64 indexed round, uint64 atBlock);
    /// @notice A verified primary selection was recorded for `round`: `commitBlock` requires its
    /// `primary` until block `validUntilBlock` (exclusive). `afterTimeout`: the reveal timeout had
    /// passed, so `revealers` may omit absent pre-selected nodes.
    event PrimarySelectionRecorded(
        uint64 indexed round,
        uint16 primary,
        uint256 revealers,
        bool afterTimeout,
        uint64 validUntilBlock
    );
    /// @notice The selection timeouts changed (admin).
    event SelectionTimeoutsSet(uint16 revealTimeoutBlocks, uint16 primaryWindowBlocks);

    /// @notice A selection recorded for round `selectedRound` names `selected`, and its primary
    /// window is not over: the block of round `round` by `primary` is refused (submit the selected
    /// primary's block of the selected round, or wait for the window to end).
    error AggregationLedgerNotSelectedPrimary(
        uint64 selectedRound,
        uint16 selected,
        uint64 round,
        uint16 primary
    );
    /// @notice The reveals do not verify (`IReputationRegistry.selectedPrimary`): wrong round,
    /// vector, keys or signatures, or revealers other than all pre-selected nodes before the
    /// reveal timeout.
    error AggregationLedgerInvalidPrimarySelection(uint64 round);
    /// @notice A selection for `round` under the current head is already recorded (first wins).
    error AggregationLedgerSelectionAlreadyRecorded(uint64 round);
    /// @notice The reveal window of `round` under the current head is already open.
    error AggregationLedgerSelectionAlreadyOpen(uint64 round);
    /// @notice Both selection timeouts must be at least one block.
    error AggregationLedgerSelectionTimeoutsInvalid(
        uint16 revealTimeoutBlocks,
        uint16 primaryWindowBlocks
    );

    /// @notice Opens round `round`'s reveal window (anyone; consensus mode; `round` above the last
    /// round): from block `block.number + revealTimeoutBlocks` on, `recordPrimarySelection`
    /// accepts reveals from a non-empty subset of the pre-selected nodes (absent nodes excluded),
    /// so a crashed pre-selected node cannot halt the chain. Bound to the current head digest: a
    /// window opened before the previous round committed does not count.
    function openPrimarySelection(uint64 round) external;

    /// @notice Records the verified primary selection of `round` (anyone: the reveals
    /// authenticate themselves; DESIGN §5.4, docs/CONSENSUS.md "Primary selection at commit
    /// time"). Verified by `IReputationRegistry.selectedPrimary` against the current vector and
    /// head: every pre-selected node must have revealed, unless the round's reveal window opened
    /// under the current head at least `revealTimeoutBlocks` ago. The first selection recorded for
    /// a round under a head stands (`AggregationLedgerSelectionAlreadyRecorded`); for the next
    /// `primaryWindowBlocks` blocks `commitBlock` accepts only the selected primary's block.
    function recordPrimarySelection(
        uint64 round,
        bytes calldata reputations,
        IReputationRegistry.Reveals calldata reveals
    ) external;

    /// @notice Sets the reveal timeout and the primary window (admin; blocks, each ≥ 1; defaults
    /// 5 and 10).
    function setSelectionTimeouts(uint16 revealTimeoutBlocks, uint16 primaryWindowBlocks) external;

    /// @notice The reveal timeout and the primary window (blocks).
    function selectionTimeouts()
        external
        view
        returns (uint16 revealTimeoutBlocks, uint16 primaryWindowBlocks);

    /// @notice The last recorded selection; `recorded` is false when none was recorded under the
    /// current head (then `commitBlock` checks no selection).
    function primarySelection()
        external
        view
        returns (uint64 round, uint16 primary, uint64 validUntilBlock, bool recorded);

    /// @notice Binds the reputation registry (admin, once; the registry must already be bound to this
    /// ledger). Copies the registry's round state (`roundState`); afterwards `recordRound` reverts.
    function bindRegistry(address registry) external;

    /// @notice The bound registry pauses commits while a membership change is pending (it was
    /// submitted with a vector that a commit had already superseded); `setMembers` resumes them.
    /// Only the bound registry may call it.
    function pauseForMembershipChange() external;

    /// @notice True while commits are paused for a pending membership change.
    function membershipChangePending() external view returns (bool);

    /// @notice The bound registry reports a membership change (and resumes paused commits): the
    /// members part of the round-config blob (contracts/consensus/RoundConfig.sol: aggregate key, M,
    /// key-table chunks, membership epoch, accounts), the new committed vector's hash and its
    /// validator bitmap. Only the bound registry may call it.
    function setMembers(
        bytes calldata members,
        bytes32 reputationsHash,
        uint256 validators
    ) external;

    /// @notice keccak256 of the committed packed reputation vector (of the head block, or of the
    /// last membership change if later).
    function reputationsHash() external view returns (bytes32);

    /// @notice The validator bitmap of the committed vector (bit j: node j validates; see
    /// `IReputationRegistry.getValidators`).
    function validatorBitmap() external view returns (uint256);

    /// @notice The round-config blob ({RoundConfig} layout, stored as contract code).
    function roundConfig() external view returns (address);

    /// @notice The bound registry (zero in gateway-only mode).
    function registry() external view returns (address);

    /// @notice The digest of the last committed block (zero before the first).
    function headDigest() external view returns (bytes32);

    /// @notice The digest of `block_` on this deployment (what the consensus nodes sign).
    function blockDigest(ConsensusBlock calldata block_) external view returns (bytes32);

    /// @notice Records round `round` in gateway-only mode (no registry bound): role-gated to GATEWAY_ROLE, rounds strictly increasing,
    /// at least `minReporters()` counted reporters, `sum < r`, GW's signature verified on-chain
    /// with one pairing check.
    /// @param round The round number `t` (u64).
    /// @param sum The aggregate, mod r.
    /// @param reporters The number of users counted in `sum`, as signed by the gateway (part of the
    /// round message); reverts `AggregationLedgerTooFewReporters` below `minReporters()`.
    /// @param gatewaySig GW's BLS signature, EIP-2537 G2 encoding (256 bytes).
    function recordRound(
        uint64 round,
        uint256 sum,
        uint32 reporters,
        bytes calldata gatewaySig
    ) external;

    /// @notice Sets the minimum number of counted reporters per round (admin; at least 2; default
    /// 10, `DEFAULT_MIN_REPORTERS` in offchain/protocol/bbnp/params.ts). Part of the round
    /// configuration: the TA publishes the same value in the BBNP parameters.
    function setMinReporters(uint32 minReporters_) external;

    /// @notice The minimum number of counted reporters per round.
    function minReporters() external view returns (uint32);

    /// @notice Replaces the gateway key (admin only); rounds recorded later verify under the new key.
    /// @param gatewayKey The new `S_g`, EIP-2537 G1 encoding (128 bytes).
    function rotateGatewayKey(bytes calldata gatewayKey) external;

    /// @notice The current gateway key (EIP-2537 G1, 128 bytes).
    function gatewayKey() external view returns (bytes memory);

    /// @notice The current key epoch (0 until the first rotation).
    function gatewayKeyEpoch() external view returns (uint32);

    /// @notice The last recorded round and whether any round has been recorded.
    function lastRound() external view returns (uint64 round, bool any);

    /// @notice The record of gateway-only round `round` (all zeros if not recorded, and for every
    /// certified round: read those from `BlockCommitted` events).
    function roundRecord(uint64 round) external view returns (RoundRecord memory);

    /// @notice keccak256(u256 chainid ‖ address(this)).
    function domainSeparator() external view returns (bytes32);

    /// @notice The 76-byte message GW signs for `round`, `sum` and its count of `reporters` on this
    /// deployment: `domain ‖ u64 round ‖ u256 sum ‖ u32 reporters`.
    function roundMessage(
        uint64 round,
        uint256 sum,
        uint32 reporters
    ) external view returns (bytes memory);
}
