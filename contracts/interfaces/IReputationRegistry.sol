// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IReputationRegistry
/// @notice BBNP consensus nodes and their reputations (DESIGN §2 "Reputation registry", §5;
/// docs/CONSENSUS.md). Each node has a chain account and a BLS key (EIP-2537 G1, 128 bytes) whose
/// proof of possession is verified on-chain at registration (rogue-key defence, DESIGN §4.8). The
/// reputation vector `Γ` (one u32 per node in units of 1e-9, i.e. ⌊Γ_1e18 / 1e9⌋, node-index
/// order, "packed": 4 bytes big-endian each) is stored only as `keccak256(packed)`; it changes only through a block accepted
/// by the aggregation ledger with a valid quorum certificate (DESIGN §5.4) or when the regulator
/// (`REGULATOR_ROLE`, DESIGN §2 "Access") adds or removes a node. The vector itself travels in
/// calldata and in the ledger's `BlockCommitted` event. `getValidators()` is the Besu QBFT
/// validator-contract interface.
///
/// Membership epoch: every applied membership change advances `membershipEpoch()`, which the
/// ledger binds into every block digest, so a certificate made under one membership never commits
/// under another. A change whose vector a commit superseded (the race of a regulator transaction
/// with a round) is not refused: it is deferred, the ledger's commits pause, and
/// `applyMembershipChange` applies it with the now-stable vector.
interface IReputationRegistry {
    /// @notice A round's primary-selection reveals (DESIGN §5.4): bit j of `revealers` set iff node
    /// j revealed; its key (EIP-2537 G1, 128 bytes) and signature (G2, 256 bytes) in ascending index
    /// order; GW's signature on the same round message.
    struct Reveals {
        uint256 revealers;
        bytes keys;
        bytes signatures;
        bytes gatewaySignature;
    }

    /// @notice A node was admitted at `index` (= the previous node count).
    event NodeAdded(
        uint256 indexed index,
        address indexed account,
        bytes blsKey,
        uint64 initialReputation
    );
    /// @notice A node was removed; the last node moved from `movedFrom` into `index` (equal when
    /// the removed node was the last one).
    event NodeRemoved(uint256 indexed index, address indexed account, uint256 movedFrom);
    /// @notice The aggregation ledger allowed to apply certified blocks was set (once).
    event LedgerBound(address ledger);
    /// @notice A membership change was applied; blocks must now carry `epoch`.
    event MembershipEpochChanged(uint32 indexed epoch);
    /// @notice A membership change (kind 1 add, 2 remove) was deferred because a commit had
    /// superseded the vector given; the ledger's commits are paused until it is applied.
    event MembershipChangeDeferred(uint8 kind, address indexed account);

    /// @notice The account is zero or already a node; use another account.
    error ReputationRegistryInvalidAccount(address account);
    /// @notice The BLS key is malformed, the identity, already registered, or its proof of
    /// possession does not verify (PoP = BLS signature on the 48-byte compressed key under the PoP
    /// DST, `blsProvePossession`).
    error ReputationRegistryInvalidKey();
    /// @notice A reputation is above 1e18 (fixed point 1.0).
    error ReputationRegistryReputationOutOfRange(uint256 index, uint256 value);
    /// @notice The packed reputation vector given does not hash to the stored commitment, or has
    /// the wrong length for the node count: pass the vector of the last `BlockCommitted` event of
    /// the ledger (or the vector after the last `NodeAdded`/`NodeRemoved` change, if later).
    error ReputationRegistryReputationsMismatch();
    /// @notice The registry holds at most 256 nodes (signer bitmaps are one word).
    error ReputationRegistryFull();
    /// @notice `account` is not a node.
    error ReputationRegistryUnknownNode(address account);
    /// @notice The ledger is already bound, or the address is zero.
    error ReputationRegistryLedgerAlreadyBound();
    /// @notice The block's primary index is not a node, or its account is not the submitter.
    error ReputationRegistryWrongPrimary(uint256 primary, address submitter);
    /// @notice The certificate's signer bitmap names a non-node, or has fewer signers than
    /// `quorum()`.
    error ReputationRegistryInsufficientSigners(uint256 signers, uint256 quorum);
    /// @notice The registry would hold (or holds) fewer than 4 nodes, Besu QBFT's minimum for one
    /// fault: removals stop at 4 nodes, and `getValidators()` refuses to answer below 4 (add nodes
    /// before switching Besu to contract validator selection).
    error ReputationRegistryTooFewNodes(uint256 nodes);
    /// @notice A membership change is pending: `applyMembershipChange` first.
    error ReputationRegistryMembershipChangePending();
    /// @notice `applyMembershipChange` without a pending change.
    error ReputationRegistryNoPendingChange();
    /// @notice The BLS key is not a registered node's.
    error ReputationRegistryUnknownKey();

    /// @notice Admits a node (regulator only): key checked with its proof of possession.
    /// @param account The node's chain account (submits blocks when primary; listed by getValidators).
    /// @param blsKey The node's BLS public key, EIP-2537 G1 (128 bytes).
    /// @param pop Proof of possession, EIP-2537 G2 (256 bytes).
    /// @param initialReputation T_j, fixed point 1e18 (paper §IV-A.3), ≤ 1e18; the packed vector
    /// stores ⌊T_j / 1e9⌋ (u32, resolution 1e-9), as `packReputations` does off-chain.
    /// @param currentReputations The current packed vector. If it is not the committed one (a commit
    /// landed first) and the ledger is bound, the addition is deferred and commits pause until
    /// `applyMembershipChange`; before the ledger is bound a mismatch reverts.
    function addNode(
        address account,
        bytes calldata blsKey,
        bytes calldata pop,
        uint64 initialReputation,
        bytes calldata currentReputations
    ) external;

    /// @notice Removes a node (regulator only); the last node takes its index. At least 4 nodes
    /// remain (`ReputationRegistryTooFewNodes`). `currentReputations` as in `addNode` (deferred on
    /// a superseded vector, so a node cannot escape its removal by committing first).
    function removeNode(address account, bytes calldata currentReputations) external;

    /// @notice Applies the deferred membership change (regulator only) with the current packed
    /// vector, which no commit can change meanwhile (commits are paused); resumes commits.
    function applyMembershipChange(bytes calldata currentReputations) external;

    /// @notice The deferred change, if any: kind (0 none, 1 add, 2 remove), account, T_j.
    function pendingMembershipChange()
        external
        view
        returns (uint8 kind, address account, uint64 initialReputation);

    /// @notice The membership epoch: the number of membership changes applied. Blocks carry it
    /// (`IAggregationLedger.ConsensusBlock.epoch`) and their digest binds it.
    function membershipEpoch() external view returns (uint32);

    /// @notice The validator (chain) account of the consensus node whose BLS key is `blsKey`
    /// (EIP-2537 G1, 128 bytes); reverts `ReputationRegistryUnknownKey` for other keys.
    function validatorOf(bytes calldata blsKey) external view returns (address);

    /// @notice Binds the aggregation ledger (admin, once).
    function bindLedger(address ledger) external;

    /// @notice What the ledger copies when it binds this registry (`IAggregationLedger.bindRegistry`)
    /// and receives on every membership change (`setMembers`): the members part of its round-config
    /// blob (contracts/consensus/RoundConfig.sol), the committed vector's hash, its validator bitmap.
    function roundState()
        external
        view
        returns (bytes memory members, bytes32 reputationsHash, uint256 validators);

    /// @notice Besu QBFT validator-contract interface: the accounts of the nodes eligible to
    /// validate (Γ_j ≥ T, T the mean), filled up by reputation (ties: lower index) to at least 4.
    /// Never empty and never fewer than 4: reverts `ReputationRegistryTooFewNodes` while the
    /// registry has fewer than 4 nodes, and removals stop at 4. A node whose reputation falls below
    /// the mean thus leaves the set only while at least 4 others remain in it.
    function getValidators() external view returns (address[] memory);

    /// @notice Verifies a round's primary selection (DESIGN §5.4) against the current reputations
    /// and the ledger's head: `round` must be above the head round, the seed is the head digest.
    /// Every revealed signature is on `"GridLedger/round" ‖ domainSeparator ‖ u64 round ‖ seed`
    /// (`roundRandomMessage(domain, round, seed)`: bound to this chain and ledger even in the first
    /// round, whose seed is zero); they and the gateway's are checked together by one
    /// random-linear-combination pairing; X_q = sha256(compressed σ_q), Θ = sha256(compressed
    /// σ_GW). True iff the revealers are exactly the pre-selected nodes (Γ_q ≥ T; a subset is
    /// refused, since the rule over a subset can name a non-primary), the batch verifies, and
    /// `claimedPrimary` is what the rule gives: highest Γ in P = {X_q ≥ Θ}, ties by larger X (then
    /// lower index); P empty → highest X.
    /// @param reputations The current packed vector.
    /// @param revealers Bitmap of the nodes whose signatures are given (ascending index order).
    /// @param revealedKeys Their keys (128 bytes each), checked against the stored hashes.
    /// @param revealedSigs Their signatures (256 bytes each).
    /// @param gatewaySig The gateway's signature on the same message (its key is the ledger's).
    function verifyPrimarySelection(
        uint64 round,
        bytes calldata reputations,
        uint256 revealers,
        bytes calldata revealedKeys,
        bytes calldata revealedSigs,
        bytes calldata gatewaySig,
        uint256 claimedPrimary
    ) external view returns (bool);

    /// @notice The primary of a round's selection (DESIGN §5.4), for the ledger's
    /// `recordPrimarySelection`: the checks of `verifyPrimarySelection`, except that with
    /// `afterTimeout` (the ledger's reveal timeout has passed) the revealers may be any non-empty
    /// subset of the pre-selected nodes (the absent ones are excluded from the rule, as off-chain
    /// `selectPrimary` does for nodes that revealed nothing). Returns `ok` false (never reverts on
    /// bad reveals; reverts `ReputationRegistryReputationsMismatch` for a stale vector) and the
    /// primary the rule names over the revealers.
    /// @param reveals The revealers' bitmap, keys and signatures and GW's signature, as for
    /// `verifyPrimarySelection`.
    function selectedPrimary(
        uint64 round,
        bytes calldata reputations,
        Reveals calldata reveals,
        bool afterTimeout
    ) external view returns (bool ok, uint256 primary);

    /// @notice The number of nodes M.
    function nodeCount() external view returns (uint256);

    /// @notice Node `index`: its account and BLS key (EIP-2537 G1).
    function node(uint256 index) external view returns (address account, bytes memory blsKey);

    /// @notice The index of `account` (reverts if it is not a node).
    function indexOf(address account) external view returns (uint256);

    /// @notice Sum of all nodes' keys (EIP-2537 G1; all zeros when there is no node).
    function aggregateKey() external view returns (bytes memory);

    /// @notice The key table: `aggregateKey ‖ key_0 ‖ … ‖ key_{M−1}` (128 bytes each) lives in
    /// contract code ({CodeStore}), in chunks of 128 entries; these are the chunks' addresses.
    function keyTables() external view returns (address[] memory);

    /// @notice keccak256 of the committed packed reputation vector. Once the ledger has bound this
    /// registry, the ledger holds the commitment (blocks update it there) and this view reads it.
    function reputationsHash() external view returns (bytes32);

    /// @notice Bit j set iff node j is listed by getValidators() (read from the ledger once bound).
    function validatorBitmap() external view returns (uint256);

    /// @notice Signers a certificate needs: ⌊(M + f)/2⌋ + 1 with f = ⌊(M − 1)/3⌋ (2f + 1 when
    /// M = 3f + 1; any two quorums share ≥ f + 1 nodes, so at least one honest node).
    function quorum() external view returns (uint256);

    /// @notice The bound aggregation ledger (zero until bound).
    function ledger() external view returns (address);
}
