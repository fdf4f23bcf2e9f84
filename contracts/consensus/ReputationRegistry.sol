// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

import {IAggregationLedger} from "../interfaces/IAggregationLedger.sol";
import {IReputationRegistry} from "../interfaces/IReputationRegistry.sol";
import {BLS12381} from "../libraries/BLS12381.sol";
import {CodeStore} from "./CodeStore.sol";
import {ReputationVector} from "./ReputationVector.sol";
import {RoundConfig} from "./RoundConfig.sol";
import {SignerBitmap} from "./SignerBitmap.sol";

/// @title ReputationRegistry
/// @notice BBNP consensus nodes, their BLS keys and reputations; Besu QBFT validator contract
/// (DESIGN §2, §5; docs/CONSENSUS.md).
/// @dev Rounds never call this contract: the ledger's `commitBlock` checks the registry's rules from
/// its round-config blob ({RoundConfig}: aggregate key, M, key-table chunks, accounts), which this
/// registry refreshes through `IAggregationLedger.setMembers` on every membership change, and the
/// ledger stores the committed vector's hash and validator bitmap (docs/CONSENSUS.md "Gas"). Keys
/// live in a code-stored key table (aggregate first), read with EXTCODECOPY: a certificate carries
/// only its bitmap and signature, and each non-signer costs one EXTCODECOPY + G1ADD.
///
/// Storage for a Besu genesis `alloc` (docs/CONSENSUS.md "Genesis"; derive the slots from the
/// compiler's `storageLayout`, never by hand): `getValidators()` of an unbound registry reads only
/// `_nodes` (a dynamic array of `Node {address account; bytes32 keyHash}`: its length at the
/// array's slot, node j's account at `keccak256(slot) + 2j`, its key hash at `+ 2j + 1`) and
/// `_validatorBitmap` (bit j: node j validates), with `_ledger` zero. `_indexPlusOne`,
/// `_accountOfKey`, `_keyTables` (code addresses: their code must be in the alloc too),
/// `_reputationsHash` and `_epoch` make the nodes usable for consensus; AccessControl's `_roles`
/// holds the admin and regulator. The constructor writes only the roles, an empty key table and
/// the empty vector's hash.
contract ReputationRegistry is IReputationRegistry, AccessControl {
    /// @notice The regulator: admits and removes consensus nodes (DESIGN §2 "Access": `REGULATOR_ROLE`
    /// for consensus membership; granted by the admin).
    bytes32 public constant REGULATOR_ROLE = keccak256("REGULATOR_ROLE");

    /// @dev Besu QBFT needs at least 4 validators to tolerate one fault.
    uint256 private constant MIN_VALIDATORS = ReputationVector.MIN_VALIDATORS;
    /// @dev Kinds of {PendingChange}.
    uint8 private constant CHANGE_NONE = 0;
    uint8 private constant CHANGE_ADD = 1;
    uint8 private constant CHANGE_REMOVE = 2;

    /// @dev Signer and validator bitmaps are one word.
    uint256 private constant MAX_NODES = 256;
    /// @dev Fixed point 1.0 of the arguments (1e18) and of the packed vector (u32, units of 1e-9).
    uint256 private constant ONE = 1e18;
    uint256 private constant PACKED_SCALE = 1e9;
    /// @dev Bytes per packed reputation.
    uint256 private constant REP_BYTES = 4;
    /// @dev Key-table entries per code chunk (128 × 128 B = 16 KiB, under EIP-170's 24 KiB).
    uint256 private constant CHUNK_ENTRIES = RoundConfig.CHUNK_ENTRIES;
    uint256 private constant MAX_CHUNKS = 3; // ⌈(1 + MAX_NODES) / 128⌉ = RoundConfig.KEY_TABLE_CHUNKS
    /// @dev Tag of the per-round message whose unique signatures yield X_q and Θ (DESIGN §5.4,
    /// `ROUND_RANDOM_TAG` of offchain/protocol/primary-selection.ts).
    bytes private constant ROUND_RANDOM_TAG = "GridLedger/round";

    struct Node {
        address account;
        bytes32 keyHash;
    }

    /// @dev A membership change that raced a commit (its vector was superseded): the ledger's
    /// commits are paused until {applyMembershipChange}. One slot.
    struct PendingChange {
        address account;
        uint64 initialReputation;
        uint8 kind;
    }

    Node[] private _nodes;
    mapping(address account => uint256 indexPlusOne) private _indexPlusOne;
    /// @dev keccak256(BLS key, EIP-2537 G1) → the node's (validator) account; zero if unregistered.
    mapping(bytes32 keyHash => address account) private _accountOfKey;

    /// @dev Key table `aggregate ‖ key_0 ‖ … ‖ key_{M−1}` in code chunks of CHUNK_ENTRIES entries.
    address[MAX_CHUNKS] private _keyTables;
    /// @dev The committed vector while no ledger has bound this registry; afterwards the ledger's
    /// copy is the commitment (see {reputationsHash}).
    bytes32 private _reputationsHash;
    uint256 private _validatorBitmap;
    address private _ledger;
    /// @dev The membership epoch: the number of membership changes applied (shares `_ledger`'s slot).
    uint32 private _epoch;
    PendingChange private _pending;
    /// @dev The BLS key of a pending addition.
    bytes private _pendingKey;

    /// @param admin Holder of DEFAULT_ADMIN_ROLE and REGULATOR_ROLE.
    constructor(address admin) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(REGULATOR_ROLE, admin);
        // Empty table: the aggregate of no keys is the identity (all zeros).
        _storeKeyTable(new bytes(BLS12381.G1_POINT_LENGTH));
        _reputationsHash = keccak256("");
    }

    // ------------------------------------------------------------------ membership (regulator)

    /// @inheritdoc IReputationRegistry
    function addNode(
        address account,
        bytes calldata blsKey,
        bytes calldata pop,
        uint64 initialReputation,
        bytes calldata currentReputations
    ) external onlyRole(REGULATOR_ROLE) {
        _checkNoPendingChange();
        uint256 m = _nodes.length;
        if (m == MAX_NODES) revert ReputationRegistryFull();
        if (account == address(0) || _indexPlusOne[account] != 0) {
            revert ReputationRegistryInvalidAccount(account);
        }
        if (initialReputation > ONE) {
            revert ReputationRegistryReputationOutOfRange(m, initialReputation);
        }
        if (
            blsKey.length != BLS12381.G1_POINT_LENGTH ||
            _accountOfKey[keccak256(blsKey)] != address(0) ||
            !BLS12381.tryVerifyPossession(blsKey, pop)
        ) revert ReputationRegistryInvalidKey();
        if (_isCommitted(currentReputations, m)) {
            _applyAdd(account, blsKey, initialReputation, currentReputations);
        } else {
            _pendingKey = blsKey;
            _defer(PendingChange(account, initialReputation, CHANGE_ADD));
        }
    }

    /// @inheritdoc IReputationRegistry
    function removeNode(
        address account,
        bytes calldata currentReputations
    ) external onlyRole(REGULATOR_ROLE) {
        _checkNoPendingChange();
        if (_indexPlusOne[account] == 0) revert ReputationRegistryUnknownNode(account);
        uint256 m = _nodes.length;
        // Checked: m ≥ 1 (the account is a node).
        if (m - 1 < MIN_VALIDATORS) revert ReputationRegistryTooFewNodes(m - 1);
        if (_isCommitted(currentReputations, m)) {
            _applyRemove(account, currentReputations);
        } else {
            _defer(PendingChange(account, 0, CHANGE_REMOVE));
        }
    }

    /// @inheritdoc IReputationRegistry
    function applyMembershipChange(
        bytes calldata currentReputations
    ) external onlyRole(REGULATOR_ROLE) {
        PendingChange memory change = _pending;
        if (change.kind == CHANGE_NONE) revert ReputationRegistryNoPendingChange();
        // Commits are paused since the change was deferred: this vector cannot be raced.
        _checkCommitted(currentReputations, _nodes.length);
        delete _pending;
        if (change.kind == CHANGE_ADD) {
            bytes memory blsKey = _pendingKey;
            delete _pendingKey;
            _applyAdd(change.account, blsKey, change.initialReputation, currentReputations);
        } else {
            _applyRemove(change.account, currentReputations);
        }
    }

    /// @inheritdoc IReputationRegistry
    function pendingMembershipChange()
        external
        view
        returns (uint8 kind, address account, uint64 initialReputation)
    {
        PendingChange memory change = _pending;
        return (change.kind, change.account, change.initialReputation);
    }

    /// @dev Records a change whose vector a commit superseded and pauses the ledger's commits until
    /// {applyMembershipChange}. Before the ledger binds this registry nothing can race the vector,
    /// so a mismatch is the caller's mistake and reverts.
    function _defer(PendingChange memory change) private {
        if (!_ledgerBound()) revert ReputationRegistryReputationsMismatch();
        _pending = change;
        IAggregationLedger(_ledger).pauseForMembershipChange();
        emit MembershipChangeDeferred(change.kind, change.account);
    }

    function _checkNoPendingChange() private view {
        if (_pending.kind != CHANGE_NONE) revert ReputationRegistryMembershipChangePending();
    }

    /// @dev Appends a node (key validated by the caller) and commits `currentReputations ‖ T_j`.
    function _applyAdd(
        address account,
        bytes memory blsKey,
        uint64 initialReputation,
        bytes calldata currentReputations
    ) private {
        uint256 m = _nodes.length;
        bytes32 keyHash = keccak256(blsKey);
        _nodes.push(Node({account: account, keyHash: keyHash}));
        _indexPlusOne[account] = m + 1;
        _accountOfKey[keyHash] = account;
        // The PoP check validated the key (on the curve, in the subgroup), so G1ADD is sound here.
        bytes memory table = _loadKeyTable(m);
        _setEntry(table, 0, _add(_entry(table, 0), blsKey));
        _storeKeyTable(abi.encodePacked(table, blsKey));
        // Checked by addNode: initialReputation ≤ 1e18, so the quotient is ≤ 1e9 < 2^32.
        bytes memory next = abi.encodePacked(
            currentReputations,
            uint32(initialReputation / PACKED_SCALE)
        );
        _storeReputations(next);
        emit NodeAdded(m, account, blsKey, initialReputation);
    }

    /// @dev Removes a node (the last one takes its index) and commits the vector moved likewise.
    function _applyRemove(address account, bytes calldata currentReputations) private {
        uint256 m = _nodes.length;
        // Checked by the callers: the account is a node, so indexPlusOne ≥ 1 and m ≥ 1.
        uint256 index = _indexPlusOne[account] - 1;
        uint256 last = m - 1;
        bytes memory table = _loadKeyTable(m);
        _setEntry(table, 0, _add(_entry(table, 0), BLS12381.negateG1(_entry(table, 1 + index))));
        delete _accountOfKey[_nodes[index].keyHash];
        delete _indexPlusOne[account];

        bytes memory next = currentReputations[:REP_BYTES * last];
        if (index != last) {
            Node memory moved = _nodes[last];
            _nodes[index] = moved;
            _setEntry(table, 1 + index, _entry(table, 1 + last));
            _indexPlusOne[moved.account] = index + 1;
            bytes4 movedReputation = bytes4(currentReputations[REP_BYTES * last:REP_BYTES * m]);
            // Overwrite the 4 bytes at `index`, keeping the 28 bytes after them.
            assembly ("memory-safe") {
                let p := add(add(next, 0x20), mul(index, 4))
                mstore(p, or(movedReputation, shr(32, shl(32, mload(p)))))
            }
        }
        _nodes.pop();
        // Drop the last entry (its key moved to `index` or was removed).
        assembly ("memory-safe") {
            mstore(table, mul(add(last, 1), 128))
        }
        _storeKeyTable(table);
        _storeReputations(next);
        emit NodeRemoved(index, account, last);
    }

    /// @inheritdoc IReputationRegistry
    function bindLedger(address ledger_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (_ledger != address(0) || ledger_ == address(0)) {
            revert ReputationRegistryLedgerAlreadyBound();
        }
        _ledger = ledger_;
        emit LedgerBound(ledger_);
    }

    // ------------------------------------------------------------------ rounds (ledger)

    /// @inheritdoc IReputationRegistry
    function roundState()
        external
        view
        returns (bytes memory members, bytes32 reputationsHash_, uint256 validators)
    {
        return (_membersPart(), _reputationsHash, _validatorBitmap);
    }

    /// @dev The members part of the ledger's round-config blob ({RoundConfig}).
    function _membersPart() private view returns (bytes memory members) {
        uint256 m = _nodes.length;
        members = abi.encodePacked(
            CodeStore.read(_keyTables[0], 0, BLS12381.G1_POINT_LENGTH),
            uint16(m),
            _keyTables[0],
            _keyTables[1],
            _keyTables[2],
            _epoch
        );
        bytes memory accounts = new bytes(20 * m);
        for (uint256 j = 0; j < m; ++j) {
            address account = _nodes[j].account;
            assembly ("memory-safe") {
                mstore(add(add(accounts, 0x20), mul(j, 20)), shl(96, account))
            }
        }
        members = abi.encodePacked(members, accounts);
    }

    /// @dev True once the ledger has bound this registry: from then on the ledger holds the
    /// committed vector and receives membership changes.
    function _ledgerBound() private view returns (bool) {
        address ledger_ = _ledger;
        return ledger_ != address(0) && IAggregationLedger(ledger_).registry() == address(this);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IReputationRegistry
    function getValidators() external view returns (address[] memory validators) {
        uint256 m = _nodes.length;
        if (m < MIN_VALIDATORS) revert ReputationRegistryTooFewNodes(m);
        uint256 bitmap = validatorBitmap();
        validators = new address[](_popcount(bitmap));
        uint256 k;
        for (uint256 j = 0; bitmap >> j != 0; ++j) {
            if ((bitmap >> j) & 1 == 1) validators[k++] = _nodes[j].account;
        }
    }

    /// @inheritdoc IReputationRegistry
    function verifyPrimarySelection(
        uint64 round,
        bytes calldata reputations,
        uint256 revealers,
        bytes calldata revealedKeys,
        bytes calldata revealedSigs,
        bytes calldata gatewaySig,
        uint256 claimedPrimary
    ) external view returns (bool) {
        _checkCommitted(reputations, _nodes.length);
        if (
            !_wellFormed(round, revealers, revealedKeys, revealedSigs, gatewaySig) ||
            !_revealersValid(reputations, revealers, revealedKeys, false) ||
            !_batchValid(round, revealedKeys, revealedSigs, gatewaySig)
        ) return false;
        return claimedPrimary == _selectPrimary(reputations, revealers, revealedSigs, gatewaySig);
    }

    /// @inheritdoc IReputationRegistry
    function selectedPrimary(
        uint64 round,
        bytes calldata reputations,
        Reveals calldata reveals,
        bool afterTimeout
    ) external view returns (bool ok, uint256 primary) {
        _checkCommitted(reputations, _nodes.length);
        uint256 revealers = reveals.revealers;
        if (
            !_wellFormed(
                round,
                revealers,
                reveals.keys,
                reveals.signatures,
                reveals.gatewaySignature
            ) ||
            !_revealersValid(reputations, revealers, reveals.keys, afterTimeout) ||
            !_batchValid(round, reveals.keys, reveals.signatures, reveals.gatewaySignature)
        ) return (false, 0);
        return (
            true,
            _selectPrimary(reputations, revealers, reveals.signatures, reveals.gatewaySignature)
        );
    }

    /// @inheritdoc IReputationRegistry
    function validatorOf(bytes calldata blsKey) external view returns (address account) {
        account = _accountOfKey[keccak256(blsKey)];
        if (account == address(0)) revert ReputationRegistryUnknownKey();
    }

    /// @inheritdoc IReputationRegistry
    function membershipEpoch() external view returns (uint32) {
        return _epoch;
    }

    /// @inheritdoc IReputationRegistry
    function nodeCount() external view returns (uint256) {
        return _nodes.length;
    }

    /// @inheritdoc IReputationRegistry
    function node(uint256 index) external view returns (address account, bytes memory blsKey) {
        account = _nodes[index].account; // reverts past the end
        blsKey = _entry(_loadKeyTable(_nodes.length), 1 + index);
    }

    /// @inheritdoc IReputationRegistry
    function indexOf(address account) external view returns (uint256) {
        uint256 indexPlusOne = _indexPlusOne[account];
        if (indexPlusOne == 0) revert ReputationRegistryUnknownNode(account);
        // Checked: indexPlusOne ≥ 1.
        return indexPlusOne - 1;
    }

    /// @inheritdoc IReputationRegistry
    function aggregateKey() external view returns (bytes memory) {
        return CodeStore.read(_keyTables[0], 0, BLS12381.G1_POINT_LENGTH);
    }

    /// @inheritdoc IReputationRegistry
    function keyTables() external view returns (address[] memory tables) {
        uint256 chunks = (_nodes.length + CHUNK_ENTRIES) / CHUNK_ENTRIES;
        tables = new address[](chunks);
        for (uint256 c = 0; c < chunks; ++c) tables[c] = _keyTables[c];
    }

    /// @inheritdoc IReputationRegistry
    function reputationsHash() public view returns (bytes32) {
        return _ledgerBound() ? IAggregationLedger(_ledger).reputationsHash() : _reputationsHash;
    }

    /// @inheritdoc IReputationRegistry
    function validatorBitmap() public view returns (uint256) {
        return _ledgerBound() ? IAggregationLedger(_ledger).validatorBitmap() : _validatorBitmap;
    }

    /// @inheritdoc IReputationRegistry
    function quorum() external view returns (uint256) {
        return _quorum(_nodes.length);
    }

    /// @inheritdoc IReputationRegistry
    function ledger() external view returns (address) {
        return _ledger;
    }

    // ------------------------------------------------------------------ internals

    /// @dev The round is above the ledger's head; lengths match a non-empty revealer set.
    function _wellFormed(
        uint64 round,
        uint256 revealers,
        bytes calldata revealedKeys,
        bytes calldata revealedSigs,
        bytes calldata gatewaySig
    ) private view returns (bool) {
        (uint64 headRound, bool any) = IAggregationLedger(_ledger).lastRound();
        if (any && round <= headRound) return false;
        uint256 k = _popcount(revealers);
        return
            k != 0 &&
            revealedKeys.length == k * BLS12381.G1_POINT_LENGTH &&
            revealedSigs.length == k * BLS12381.G2_POINT_LENGTH &&
            gatewaySig.length == BLS12381.G2_POINT_LENGTH;
    }

    /// @dev One random-linear-combination pairing over the revealed signatures and GW's, all on
    /// `roundRandomMessage(round, headDigest)` (DESIGN §5.4).
    function _batchValid(
        uint64 round,
        bytes calldata revealedKeys,
        bytes calldata revealedSigs,
        bytes calldata gatewaySig
    ) private view returns (bool) {
        IAggregationLedger ledger_ = IAggregationLedger(_ledger);
        bytes memory message = abi.encodePacked(
            ROUND_RANDOM_TAG,
            ledger_.domainSeparator(),
            round,
            ledger_.headDigest()
        );
        return
            BLS12381.tryVerifyBatchSameMessage(
                abi.encodePacked(revealedKeys, ledger_.gatewayKey()),
                message,
                abi.encodePacked(revealedSigs, gatewaySig)
            );
    }

    /// @dev The revealers are exactly the pre-selected nodes (Γ_q·M ≥ ΣΓ): a subset would let a
    /// pre-selected node that is not the primary win by revealing alone. With `afterTimeout` (the
    /// ledger's reveal timeout has passed) any non-empty subset of them: absent nodes excluded.
    /// They present their registered keys (`revealedKeys` has 128 bytes per revealer, checked by
    /// the caller).
    function _revealersValid(
        bytes calldata reputations,
        uint256 revealers,
        bytes calldata revealedKeys,
        bool afterTimeout
    ) private view returns (bool) {
        uint256 m = _nodes.length;
        if (m < MAX_NODES && revealers >> m != 0) return false;
        uint256 total = _sum(reputations, m);
        uint256 i;
        for (uint256 j = 0; j < m; ++j) {
            bool preselected = _at(reputations, j) * m >= total;
            bool revealed = (revealers >> j) & 1 == 1;
            if (revealed && !preselected) return false;
            if (preselected && !revealed && !afterTimeout) return false;
            if (!revealed) continue;
            if (keccak256(revealedKeys[i * 128:(i + 1) * 128]) != _nodes[j].keyHash) return false;
            ++i;
        }
        return true;
    }

    function _quorum(uint256 m) private pure returns (uint256) {
        return SignerBitmap.quorum(m);
    }

    function _checkCommitted(bytes calldata reputations, uint256 m) private view {
        if (!_isCommitted(reputations, m)) revert ReputationRegistryReputationsMismatch();
    }

    function _isCommitted(bytes calldata reputations, uint256 m) private view returns (bool) {
        return reputations.length == REP_BYTES * m && keccak256(reputations) == reputationsHash();
    }

    /// @dev Commits a vector after a membership change (key tables and `_nodes` already updated),
    /// advances the membership epoch and reports the change to the ledger once it has bound this
    /// registry (which also resumes paused commits).
    function _storeReputations(bytes memory reputations) private {
        uint256 m = reputations.length / REP_BYTES;
        bytes32 hash = keccak256(reputations);
        uint256 validators = _validatorsOfMemory(reputations, m);
        _reputationsHash = hash;
        _validatorBitmap = validators;
        // Checked: the 2^32-th change reverts rather than wrap to an old epoch.
        uint32 epoch = ++_epoch;
        emit MembershipEpochChanged(epoch);
        if (_ledgerBound())
            IAggregationLedger(_ledger).setMembers(_membersPart(), hash, validators);
    }

    /// @dev The key table of `m` nodes as one byte string ((1 + m) · 128 bytes).
    function _loadKeyTable(uint256 m) private view returns (bytes memory table) {
        uint256 entries = m + 1;
        table = new bytes(entries * 128);
        for (uint256 c = 0; c * CHUNK_ENTRIES < entries; ++c) {
            uint256 first = c * CHUNK_ENTRIES;
            uint256 n = entries - first < CHUNK_ENTRIES ? entries - first : CHUNK_ENTRIES;
            address chunk = _keyTables[c];
            assembly ("memory-safe") {
                extcodecopy(chunk, add(add(table, 0x20), mul(first, 128)), 1, mul(n, 128))
            }
        }
    }

    /// @dev Writes `table` back as code chunks (regulator operations only: 32 000 + 200 gas per
    /// byte of each chunk). Superseded chunks stay on chain, unreferenced.
    function _storeKeyTable(bytes memory table) private {
        uint256 entries = table.length / 128;
        for (uint256 c = 0; c < MAX_CHUNKS; ++c) {
            uint256 first = c * CHUNK_ENTRIES;
            if (first >= entries) {
                if (_keyTables[c] != address(0)) delete _keyTables[c];
                continue;
            }
            uint256 n = entries - first < CHUNK_ENTRIES ? entries - first : CHUNK_ENTRIES;
            bytes memory chunk = new bytes(n * 128);
            assembly ("memory-safe") {
                mcopy(add(chunk, 0x20), add(add(table, 0x20), mul(first, 128)), mul(n, 128))
            }
            _keyTables[c] = CodeStore.write(chunk);
        }
    }

    function _entry(bytes memory table, uint256 e) private pure returns (bytes memory key) {
        key = new bytes(128);
        assembly ("memory-safe") {
            mcopy(add(key, 0x20), add(add(table, 0x20), mul(e, 128)), 128)
        }
    }

    function _setEntry(bytes memory table, uint256 e, bytes memory key) private pure {
        assembly ("memory-safe") {
            mcopy(add(add(table, 0x20), mul(e, 128)), add(key, 0x20), 128)
        }
    }

    function _add(bytes memory a, bytes memory b) private view returns (bytes memory sum) {
        bool ok;
        (ok, sum) = BLS12381.tryAddG1(a, b);
        if (!ok) revert ReputationRegistryInvalidKey();
    }

    /// @dev Γ_j from a packed calldata vector (u32 big-endian at 4·j).
    function _at(bytes calldata reputations, uint256 j) private pure returns (uint256 value) {
        assembly ("memory-safe") {
            value := shr(224, calldataload(add(reputations.offset, mul(j, 4))))
        }
    }

    function _sum(bytes calldata reputations, uint256 m) private pure returns (uint256 total) {
        for (uint256 j = 0; j < m; ++j) total += _at(reputations, j);
    }

    function _validatorsOfMemory(
        bytes memory reputations,
        uint256 m
    ) private pure returns (uint256) {
        uint256[] memory values = new uint256[](m);
        for (uint256 j = 0; j < m; ++j) {
            uint256 value;
            assembly ("memory-safe") {
                value := shr(224, mload(add(add(reputations, 0x20), mul(j, 4))))
            }
            values[j] = value;
        }
        return ReputationVector.validatorsFromValues(values);
    }

    /// @dev Running best candidates of {_selectPrimary}.
    struct Best {
        uint256 eligible;
        uint256 eligibleReputation;
        uint256 eligibleX;
        uint256 any;
        uint256 anyX;
        bool found;
    }

    /// @dev The selection rule of DESIGN §5.4 over verified revealed signatures (ascending index):
    /// X_q = sha256(compressed σ_q), Θ likewise; highest Γ among X_q ≥ Θ, ties by larger X; none →
    /// highest X. Strict comparisons in ascending index order: the lower index wins other ties.
    function _selectPrimary(
        bytes calldata reputations,
        uint256 revealers,
        bytes calldata revealedSigs,
        bytes calldata gatewaySig
    ) private pure returns (uint256) {
        uint256 theta = uint256(sha256(BLS12381.compressG2(gatewaySig)));
        Best memory best = Best(type(uint256).max, 0, 0, type(uint256).max, 0, false);
        uint256 i;
        for (uint256 j = 0; revealers >> j != 0; ++j) {
            if ((revealers >> j) & 1 == 0) continue;
            uint256 x = uint256(sha256(BLS12381.compressG2(revealedSigs[i * 256:(i + 1) * 256])));
            ++i;
            if (best.any == type(uint256).max || x > best.anyX) {
                best.any = j;
                best.anyX = x;
            }
            if (x < theta) continue;
            uint256 rep = _at(reputations, j);
            if (
                !best.found ||
                rep > best.eligibleReputation ||
                (rep == best.eligibleReputation && x > best.eligibleX)
            ) {
                best.eligible = j;
                best.eligibleReputation = rep;
                best.eligibleX = x;
                best.found = true;
            }
        }
        return best.found ? best.eligible : best.any;
    }

    function _popcount(uint256 x) private pure returns (uint256) {
        return SignerBitmap.popcount(x);
    }
}
