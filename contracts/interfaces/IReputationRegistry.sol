// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IReputationRegistry
/// @notice BBNP consensus nodes and their reputations (DESIGN §2 "Reputation registry", §5;
/// docs/CONSENSUS.md). Each node has a chain account and a BLS key (EIP-2537 G1, 128 bytes) whose
/// proof of possession is verified on-chain at registration (rogue-key defence, DESIGN §4.8). The
/// reputation vector `Γ` (one u32 per node in units of 1e-9, i.e. ⌊Γ_1e18 / 1e9⌋, node-index
/// order, "packed": 4 bytes big-endian each) is stored only as `keccak256(packed)`; it changes only through a block accepted
/// by the aggregation ledger with a valid quorum certificate (DESIGN §5.4) or when the regulator
/// adds or removes a node. The vector itself travels in calldata and in the ledger's
/// `BlockCommitted` event. `getValidators()` is the Besu QBFT validator-contract interface.
interface IReputationRegistry {
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

    /// @notice Admits a node (regulator only): key checked with its proof of possession.
    /// @param account The node's chain account (submits blocks when primary; listed by getValidators).
    /// @param blsKey The node's BLS public key, EIP-2537 G1 (128 bytes).
    /// @param pop Proof of possession, EIP-2537 G2 (256 bytes).
    /// @param initialReputation T_j, fixed point 1e18 (paper §IV-A.3), ≤ 1e18; the packed vector
    /// stores ⌊T_j / 1e9⌋ (u32, resolution 1e-9), as `packReputations` does off-chain.
    /// @param currentReputations The current packed vector (checked against the commitment).
    function addNode(
        address account,
        bytes calldata blsKey,
        bytes calldata pop,
        uint64 initialReputation,
        bytes calldata currentReputations
    ) external;

    /// @notice Removes a node (regulator only); the last node takes its index.
    function removeNode(address account, bytes calldata currentReputations) external;

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
    /// validate (Γ_j ≥ T, T the mean), filled up by reputation (ties: lower index) to at least
    /// min(4, node count).
    function getValidators() external view returns (address[] memory);

    /// @notice Verifies a round's primary selection (DESIGN §5.4) against the current reputations
    /// and the ledger's head: `round` must be above the head round, the seed is the head digest.
    /// Every revealed signature is on `roundRandomMessage(round, seed)`; they and the gateway's are
    /// checked together by one random-linear-combination pairing; X_q = sha256(compressed σ_q),
    /// Θ = sha256(compressed σ_GW). True iff every revealer is pre-selected (Γ_q ≥ T), the batch
    /// verifies, and `claimedPrimary` is what the rule gives: highest Γ in P = {X_q ≥ Θ}, ties by
    /// larger X (then lower index); P empty → highest X.
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
