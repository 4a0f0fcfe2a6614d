// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {GovernedUUPS} from "./utils/GovernedUUPS.sol";
import {INodeStaking} from "./interfaces/INodeStaking.sol";
import {IDMLToken} from "./interfaces/IDMLToken.sol";

/// @title NodeStaking
/// @notice Operators register an endpoint and an X25519 key, stake DML per role, unbond after a delay and
///         are slashed by governance-authorised contracts, which may also lock bonded stake for the duration of
///         a job. Active operators of each role are kept in an index-packed array so that joining, leaving and
///         enumeration are O(1), and in a sum tree over that array so that a stake-weighted draw is O(log n).
contract NodeStaking is GovernedUUPS, ReentrancyGuardTransient, INodeStaking {
    using SafeERC20 for IERC20;

    /// @notice Lower bound of the unbonding delay.
    uint64 public constant MIN_UNBONDING_DELAY = 1 hours;
    /// @notice Upper bound of the unbonding delay.
    uint64 public constant MAX_UNBONDING_DELAY = 180 days;
    /// @notice Upper bound of the challenger's share of slashed stake (50%).
    uint16 public constant MAX_CHALLENGER_SHARE_BPS = 5_000;

    uint256 private constant BPS = 10_000;
    uint256 private constant ROLE_COUNT = 5;
    /// @dev Set in every lock word once written, so that the word never returns to zero: a lock after a full
    ///      unlock rewrites a non-zero slot (2,900 gas) instead of creating one (20,000). The amount is the low
    ///      128 bits.
    uint256 private constant LOCK_WORD_USED = 1 << 128;

    /// @dev One storage slot per (operator, role): amounts fit in 96 bits (supply is 1e27 < 2^96),
    ///      `activeIndex` is the 1-based position in the role's active array (0 = not active).
    struct RoleStake {
        uint96 bonded;
        uint96 unbonding;
        uint40 unbondReadyAt;
        uint24 activeIndex;
    }

    /// @custom:storage-location erc7201:dml.storage.NodeStaking
    struct NodeStakingStorage {
        IERC20 token;
        address treasury;
        uint64 unbondingDelay;
        uint16 challengerShareBps;
        bool burnSlashed;
        uint96[ROLE_COUNT] minStake;
        mapping(address operator => Operator) operators;
        mapping(address operator => mapping(Role role => RoleStake)) stakes;
        mapping(Role role => address[]) active;
        mapping(address slasher => bool) slashers;
        // ---- appended (stake locks, stake-weighted draw)
        /// @dev `LOCK_WORD_USED | locked` (0 until the first lock); `locked` is the liability of open jobs.
        mapping(address operator => mapping(Role role => uint256)) locks;
        /// @dev Fenwick (binary indexed) tree over the 1-based positions of `active[role]`, weight of position
        ///      `p` = bonded stake of `active[role][p - 1]`: node `p` holds the sum of positions
        ///      `(p - lowbit(p), p]`. Nodes above the list length are stale and never read; a push recomputes
        ///      its node, so a pop leaves the word in place (cheaper to reuse than to recreate).
        mapping(Role role => mapping(uint256 position => uint256)) stakeTree;
    }

    // keccak256(abi.encode(uint256(keccak256("dml.storage.NodeStaking")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant NODE_STAKING_STORAGE_LOCATION =
        0x2fde9373b30f4083c9bece63e10f8dda47377456fa6d80f52ffd407e77d2d200;

    modifier onlySlasher() {
        if (!_getNodeStakingStorage().slashers[msg.sender]) revert StakingUnauthorizedSlasher(msg.sender);
        _;
    }

    /// @notice Initialises the proxy.
    /// @param governance_ The governance timelock (upgrades and parameters).
    /// @param token_ The staked token (DMLToken).
    /// @param treasury_ Receives slashed stake when it is not burned.
    /// @param minStakes Minimum bonded stake per role, indexed by `Role`.
    /// @param unbondingDelay_ Seconds between `requestUnbond` and `withdraw`.
    /// @param challengerShareBps_ Share of slashed stake paid to the challenger.
    /// @param burnSlashed_ Burn slashed stake (true) or send it to the treasury (false).
    function initialize(
        address governance_,
        IERC20 token_,
        address treasury_,
        uint256[5] calldata minStakes,
        uint64 unbondingDelay_,
        uint16 challengerShareBps_,
        bool burnSlashed_
    ) external initializer {
        __GovernedUUPS_init(governance_);
        if (address(token_) == address(0)) revert GovernedZeroAddress();
        NodeStakingStorage storage $ = _getNodeStakingStorage();
        $.token = token_;
        _setTreasury($, treasury_);
        for (uint256 i = 0; i < ROLE_COUNT; ++i) {
            _setMinStake($, Role(i), minStakes[i]);
        }
        _setUnbondingDelay($, unbondingDelay_);
        _setChallengerShare($, challengerShareBps_);
        $.burnSlashed = burnSlashed_;
        emit BurnSlashedSet(burnSlashed_);
    }

    // ---------------------------------------------------------------- operators

    /// @inheritdoc INodeStaking
    function register(string calldata endpoint, bytes32 x25519Key, string calldata metadata) external {
        Operator storage op = _getNodeStakingStorage().operators[msg.sender];
        if (op.encryptionKey != bytes32(0)) revert StakingAlreadyRegistered(msg.sender);
        _writeOperator(op, endpoint, x25519Key, metadata);
        emit OperatorRegistered(msg.sender, endpoint, x25519Key, metadata);
    }

    /// @inheritdoc INodeStaking
    function updateOperator(string calldata endpoint, bytes32 x25519Key, string calldata metadata) external {
        Operator storage op = _getNodeStakingStorage().operators[msg.sender];
        if (op.encryptionKey == bytes32(0)) revert StakingNotRegistered(msg.sender);
        _writeOperator(op, endpoint, x25519Key, metadata);
        emit OperatorUpdated(msg.sender, endpoint, x25519Key, metadata);
    }

    /// @inheritdoc INodeStaking
    function stake(Role role, uint256 amount) external nonReentrant {
        if (amount == 0) revert StakingZeroAmount();
        NodeStakingStorage storage $ = _getNodeStakingStorage();
        if ($.operators[msg.sender].encryptionKey == bytes32(0)) revert StakingNotRegistered(msg.sender);
        RoleStake memory s = $.stakes[msg.sender][role];
        uint96 before = s.bonded;
        s.bonded = SafeCast.toUint96(uint256(before) + amount);
        _syncActive($, msg.sender, role, s, before);
        $.stakes[msg.sender][role] = s;
        emit Staked(msg.sender, role, amount, s.bonded);
        $.token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc INodeStaking
    function requestUnbond(Role role, uint256 amount) external {
        if (amount == 0) revert StakingZeroAmount();
        NodeStakingStorage storage $ = _getNodeStakingStorage();
        RoleStake memory s = $.stakes[msg.sender][role];
        if (amount > s.bonded) revert StakingInsufficientStake(s.bonded, amount);
        uint256 locked = uint128($.locks[msg.sender][role]);
        if (locked != 0 && amount + locked > s.bonded) revert StakingStakeLocked(s.bonded, locked, amount);
        uint96 before = s.bonded;
        // amount <= bonded < 2^96, and bonded + unbonding never exceeds what was staked.
        s.bonded -= uint96(amount);
        s.unbonding += uint96(amount);
        uint64 readyAt = uint64(block.timestamp) + $.unbondingDelay;
        s.unbondReadyAt = uint40(readyAt);
        _syncActive($, msg.sender, role, s, before);
        $.stakes[msg.sender][role] = s;
        emit UnbondRequested(msg.sender, role, amount, s.unbonding, readyAt);
    }

    /// @inheritdoc INodeStaking
    function withdraw(Role role) external nonReentrant {
        NodeStakingStorage storage $ = _getNodeStakingStorage();
        RoleStake storage s = $.stakes[msg.sender][role];
        uint256 amount = s.unbonding;
        if (amount == 0) revert StakingNothingToWithdraw();
        if (block.timestamp < s.unbondReadyAt) revert StakingUnbondingNotReady(s.unbondReadyAt);
        s.unbonding = 0;
        s.unbondReadyAt = 0;
        emit Withdrawn(msg.sender, role, amount);
        $.token.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc INodeStaking
    function refreshActive(Role role, address[] calldata operators) external {
        NodeStakingStorage storage $ = _getNodeStakingStorage();
        for (uint256 i = 0; i < operators.length; ++i) {
            RoleStake memory s = $.stakes[operators[i]][role];
            uint24 before = s.activeIndex;
            _syncActive($, operators[i], role, s, s.bonded);
            if (s.activeIndex != before) $.stakes[operators[i]][role].activeIndex = s.activeIndex;
        }
    }

    // ---------------------------------------------------------------- slashing

    /// @inheritdoc INodeStaking
    function slash(
        address operator,
        Role role,
        uint256 amount,
        address challenger
    ) external onlySlasher nonReentrant returns (uint256 slashed) {
        NodeStakingStorage storage $ = _getNodeStakingStorage();
        RoleStake memory s = $.stakes[operator][role];
        uint256 fromBonded = amount < s.bonded ? amount : s.bonded;
        uint256 rest = amount - fromBonded;
        uint256 fromUnbonding = rest < s.unbonding ? rest : s.unbonding;
        slashed = fromBonded + fromUnbonding;
        if (slashed == 0) return 0;
        uint96 before = s.bonded;
        s.bonded -= uint96(fromBonded);
        s.unbonding -= uint96(fromUnbonding);
        if (s.unbonding == 0) s.unbondReadyAt = 0;
        _syncActive($, operator, role, s, before);
        $.stakes[operator][role] = s;

        // The slashed operator never earns a share of its own slash (PROTOCOL.md §7.6).
        if (challenger == operator) challenger = address(0);
        uint256 reward = challenger == address(0) ? 0 : (slashed * $.challengerShareBps) / BPS;
        uint256 remainder = slashed - reward;
        bool burned = $.burnSlashed;
        emit Slashed(operator, role, msg.sender, slashed, challenger, reward, remainder, burned);

        if (reward != 0) $.token.safeTransfer(challenger, reward);
        if (remainder != 0) {
            if (burned) IDMLToken(address($.token)).burn(remainder);
            else $.token.safeTransfer($.treasury, remainder);
        }
    }

    // ---------------------------------------------------------------- locks

    /// @inheritdoc INodeStaking
    function lock(address operator, Role role, uint256 amount) external onlySlasher returns (uint256 locked) {
        _lock(_getNodeStakingStorage(), operator, role, amount);
        return amount;
    }

    /// @inheritdoc INodeStaking
    function lockMany(
        address[] calldata operators,
        Role[] calldata roles,
        uint256 amount
    ) external onlySlasher {
        if (operators.length != roles.length) revert StakingLengthMismatch();
        if (amount == 0) return;
        NodeStakingStorage storage $ = _getNodeStakingStorage();
        for (uint256 i = 0; i < operators.length; ++i) _setLock($, operators[i], roles[i], amount, true);
        emit StakesLocked(msg.sender, operators, roles, amount);
    }

    /// @inheritdoc INodeStaking
    function unlock(address operator, Role role, uint256 amount) external onlySlasher {
        _unlock(_getNodeStakingStorage(), operator, role, amount);
    }

    /// @inheritdoc INodeStaking
    function unlockMany(
        address[] calldata operators,
        Role[] calldata roles,
        uint256 amount
    ) external onlySlasher {
        if (operators.length != roles.length) revert StakingLengthMismatch();
        NodeStakingStorage storage $ = _getNodeStakingStorage();
        for (uint256 i = 0; i < operators.length; ++i) _setLock($, operators[i], roles[i], amount, false);
        emit StakesUnlocked(msg.sender, operators, roles, amount);
    }

    /// @dev A liability, not a reservation: it may exceed the bonded stake (then nothing can be unbonded), and each
    ///      module releases exactly what it locked, so one job's unlock never frees another job's liability.
    function _lock(NodeStakingStorage storage $, address operator, Role role, uint256 amount) private {
        if (amount == 0) return;
        uint256 current = _setLock($, operator, role, amount, true);
        emit StakeLocked(operator, role, msg.sender, amount, current);
    }

    function _unlock(NodeStakingStorage storage $, address operator, Role role, uint256 amount) private {
        uint256 before = uint128($.locks[operator][role]);
        uint256 current = _setLock($, operator, role, amount, false);
        if (before != current) emit StakeUnlocked(operator, role, msg.sender, before - current, current);
    }

    /// @dev Adds `amount` to (or releases up to `amount` of) the operator's lock; returns the new total. The word
    ///      keeps a marker bit, so it never returns to zero and later locks rewrite it instead of creating it.
    function _setLock(
        NodeStakingStorage storage $,
        address operator,
        Role role,
        uint256 amount,
        bool add
    ) private returns (uint256 current) {
        current = uint128($.locks[operator][role]);
        if (add) {
            current += amount;
            if (current > type(uint128).max) revert StakingInvalidLock(current);
        } else {
            if (current == 0) return 0;
            current = amount < current ? current - amount : 0;
        }
        $.locks[operator][role] = LOCK_WORD_USED | current;
    }

    // ---------------------------------------------------------------- governance

    /// @inheritdoc INodeStaking
    function setSlasher(address slasher, bool allowed) external onlyGovernance {
        if (slasher == address(0)) revert GovernedZeroAddress();
        _getNodeStakingStorage().slashers[slasher] = allowed;
        emit SlasherSet(slasher, allowed);
    }

    /// @inheritdoc INodeStaking
    function setMinStake(Role role, uint256 minStake_) external onlyGovernance {
        _setMinStake(_getNodeStakingStorage(), role, minStake_);
    }

    /// @inheritdoc INodeStaking
    function setUnbondingDelay(uint64 delay) external onlyGovernance {
        _setUnbondingDelay(_getNodeStakingStorage(), delay);
    }

    /// @inheritdoc INodeStaking
    function setChallengerShareBps(uint16 shareBps) external onlyGovernance {
        _setChallengerShare(_getNodeStakingStorage(), shareBps);
    }

    /// @inheritdoc INodeStaking
    function setBurnSlashed(bool burnSlashed_) external onlyGovernance {
        _getNodeStakingStorage().burnSlashed = burnSlashed_;
        emit BurnSlashedSet(burnSlashed_);
    }

    /// @inheritdoc INodeStaking
    function setTreasury(address treasury_) external onlyGovernance {
        _setTreasury(_getNodeStakingStorage(), treasury_);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc INodeStaking
    function isActive(address operator, Role role) public view returns (bool) {
        NodeStakingStorage storage $ = _getNodeStakingStorage();
        RoleStake storage s = $.stakes[operator][role];
        uint256 bonded = s.bonded;
        if (bonded == 0 || bonded < $.minStake[uint256(role)]) return false;
        // Registered: an operator in the active array (`activeIndex` shares the stake slot) was registered when it
        // joined, and registration is permanent (no function clears an encryption key), so the cold read of the
        // operator record is needed only for an operator outside the array (e.g. before `refreshActive`).
        return s.activeIndex != 0 || $.operators[operator].encryptionKey != bytes32(0);
    }

    /// @inheritdoc INodeStaking
    function activeCount(Role role) external view returns (uint256) {
        return _getNodeStakingStorage().active[role].length;
    }

    /// @inheritdoc INodeStaking
    function activeAt(Role role, uint256 index) external view returns (address) {
        return _getNodeStakingStorage().active[role][index];
    }

    /// @inheritdoc INodeStaking
    function lockedOf(address operator, Role role) external view returns (uint256) {
        return uint128(_getNodeStakingStorage().locks[operator][role]);
    }

    /// @inheritdoc INodeStaking
    function drawActive(Role role, uint256 random) external view returns (address) {
        NodeStakingStorage storage $ = _getNodeStakingStorage();
        address[] storage list = $.active[role];
        uint256 n = list.length;
        if (n == 0) revert StakingNoActiveOperators(role);
        mapping(uint256 => uint256) storage tree = $.stakeTree[role];
        // Every active operator has bonded >= minStake > 0, so the total is positive.
        uint256 target = random % _prefixSum(tree, n);
        // Binary lifting: the largest `pos` with prefix(pos) <= target; position pos + 1 holds the target.
        uint256 pos = 0;
        uint256 step = 1 << _log2(n);
        while (step != 0) {
            uint256 next = pos + step;
            if (next <= n) {
                uint256 w = tree[next];
                if (w <= target) {
                    pos = next;
                    target -= w;
                }
            }
            step >>= 1;
        }
        return list[pos];
    }

    /// @inheritdoc INodeStaking
    function totalActiveStake(Role role) external view returns (uint256) {
        NodeStakingStorage storage $ = _getNodeStakingStorage();
        return _prefixSum($.stakeTree[role], $.active[role].length);
    }

    /// @inheritdoc INodeStaking
    function encryptionKey(address operator) external view returns (bytes32) {
        return _getNodeStakingStorage().operators[operator].encryptionKey;
    }

    /// @inheritdoc INodeStaking
    function stakeOf(address operator, Role role) external view returns (uint256) {
        return _getNodeStakingStorage().stakes[operator][role].bonded;
    }

    /// @inheritdoc INodeStaking
    function stakeInfo(address operator, Role role) external view returns (StakeInfo memory) {
        RoleStake memory s = _getNodeStakingStorage().stakes[operator][role];
        return StakeInfo({bonded: s.bonded, unbonding: s.unbonding, unbondReadyAt: s.unbondReadyAt});
    }

    /// @inheritdoc INodeStaking
    function operatorInfo(address operator) external view returns (Operator memory) {
        return _getNodeStakingStorage().operators[operator];
    }

    /// @inheritdoc INodeStaking
    function isRegistered(address operator) external view returns (bool) {
        return _getNodeStakingStorage().operators[operator].encryptionKey != bytes32(0);
    }

    /// @inheritdoc INodeStaking
    function isSlasher(address slasher) external view returns (bool) {
        return _getNodeStakingStorage().slashers[slasher];
    }

    /// @inheritdoc INodeStaking
    function minStake(Role role) external view returns (uint256) {
        return _getNodeStakingStorage().minStake[uint256(role)];
    }

    /// @inheritdoc INodeStaking
    function unbondingDelay() external view returns (uint64) {
        return _getNodeStakingStorage().unbondingDelay;
    }

    /// @inheritdoc INodeStaking
    function challengerShareBps() external view returns (uint16) {
        return _getNodeStakingStorage().challengerShareBps;
    }

    /// @inheritdoc INodeStaking
    function burnSlashed() external view returns (bool) {
        return _getNodeStakingStorage().burnSlashed;
    }

    /// @inheritdoc INodeStaking
    function treasury() external view returns (address) {
        return _getNodeStakingStorage().treasury;
    }

    /// @inheritdoc INodeStaking
    function token() external view returns (address) {
        return address(_getNodeStakingStorage().token);
    }

    // ---------------------------------------------------------------- internals

    function _writeOperator(
        Operator storage op,
        string calldata endpoint,
        bytes32 x25519Key,
        string calldata metadata
    ) private {
        if (bytes(endpoint).length == 0) revert StakingEmptyEndpoint();
        if (x25519Key == bytes32(0)) revert StakingZeroKey();
        op.endpoint = endpoint;
        op.encryptionKey = x25519Key;
        op.metadata = metadata;
    }

    /// @dev Adds or removes `operator` from the active array of `role` so that membership matches
    ///      `isActive`, and keeps the sum tree in step: `oldBonded` is the operator's bonded stake before the
    ///      change (its current weight if it is active), `s.bonded` the new one. Updates `s.activeIndex` in memory
    ///      (the caller stores `s`).
    function _syncActive(
        NodeStakingStorage storage $,
        address operator,
        Role role,
        RoleStake memory s,
        uint96 oldBonded
    ) private {
        bool qualifies = s.bonded != 0 && s.bonded >= $.minStake[uint256(role)];
        // Registration is checked only when joining: an operator cannot unregister.
        if (qualifies && s.activeIndex == 0) {
            if ($.operators[operator].encryptionKey == bytes32(0)) return;
            address[] storage list = $.active[role];
            if (list.length >= type(uint24).max) revert StakingTooManyOperators();
            list.push(operator);
            uint256 p = list.length;
            s.activeIndex = uint24(p);
            _treePush($.stakeTree[role], p, s.bonded);
            emit ActiveStatusChanged(operator, role, true);
        } else if (!qualifies && s.activeIndex != 0) {
            address[] storage list = $.active[role];
            uint256 idx = s.activeIndex - 1;
            uint256 lastIdx = list.length - 1;
            if (idx != lastIdx) {
                address moved = list[lastIdx];
                list[idx] = moved;
                // `moved` is never `operator` here, so its slot can be written directly.
                RoleStake storage m = $.stakes[moved][role];
                m.activeIndex = uint24(idx + 1);
                // Position idx + 1 now weighs what `moved` has bonded; the last position is dropped (stale).
                unchecked {
                    _treeAdd($.stakeTree[role], idx + 1, lastIdx, uint256(m.bonded) - uint256(oldBonded));
                }
            }
            list.pop();
            s.activeIndex = 0;
            emit ActiveStatusChanged(operator, role, false);
        } else if (s.activeIndex != 0 && s.bonded != oldBonded) {
            unchecked {
                _treeAdd(
                    $.stakeTree[role],
                    s.activeIndex,
                    $.active[role].length,
                    uint256(s.bonded) - uint256(oldBonded)
                );
            }
        }
    }

    /// @dev Adds `delta` (two's complement: a decrease wraps) to position `p` of a tree of `n` positions.
    ///      Every true node sum is in [0, 2^96), so the wrapping arithmetic is exact.
    function _treeAdd(mapping(uint256 => uint256) storage tree, uint256 p, uint256 n, uint256 delta) private {
        unchecked {
            while (p <= n) {
                tree[p] += delta;
                p += p & (~p + 1);
            }
        }
    }

    /// @dev Appends position `p` (= new length) with weight `w`: node p covers (p - lowbit(p), p], i.e. `w` plus
    ///      its children p - 1, p - 2, p - 4, … (fewer than lowbit(p)), all at positions < p and up to date.
    function _treePush(mapping(uint256 => uint256) storage tree, uint256 p, uint256 w) private {
        unchecked {
            uint256 low = p & (~p + 1);
            for (uint256 k = 1; k < low; k <<= 1) w += tree[p - k];
        }
        tree[p] = w;
    }

    /// @dev Sum of positions 1..n.
    function _prefixSum(
        mapping(uint256 => uint256) storage tree,
        uint256 n
    ) private view returns (uint256 sum) {
        unchecked {
            while (n != 0) {
                sum += tree[n];
                n &= n - 1;
            }
        }
    }

    /// @dev floor(log2(x)) for x > 0.
    function _log2(uint256 x) private pure returns (uint256 r) {
        unchecked {
            while (x > 1) {
                x >>= 1;
                ++r;
            }
        }
    }

    function _setMinStake(NodeStakingStorage storage $, Role role, uint256 minStake_) private {
        if (minStake_ == 0 || minStake_ > type(uint96).max) revert StakingInvalidMinStake(minStake_);
        $.minStake[uint256(role)] = uint96(minStake_);
        emit MinStakeSet(role, minStake_);
    }

    function _setUnbondingDelay(NodeStakingStorage storage $, uint64 delay) private {
        if (delay < MIN_UNBONDING_DELAY || delay > MAX_UNBONDING_DELAY)
            revert StakingInvalidUnbondingDelay(delay);
        $.unbondingDelay = delay;
        emit UnbondingDelaySet(delay);
    }

    function _setChallengerShare(NodeStakingStorage storage $, uint16 shareBps) private {
        if (shareBps > MAX_CHALLENGER_SHARE_BPS) revert StakingInvalidChallengerShare(shareBps);
        $.challengerShareBps = shareBps;
        emit ChallengerShareSet(shareBps);
    }

    function _setTreasury(NodeStakingStorage storage $, address treasury_) private {
        if (treasury_ == address(0)) revert GovernedZeroAddress();
        $.treasury = treasury_;
        emit TreasurySet(treasury_);
    }

    function _getNodeStakingStorage() private pure returns (NodeStakingStorage storage $) {
        assembly {
            $.slot := NODE_STAKING_STORAGE_LOCATION
        }
    }
}
