// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title INodeStaking
/// @notice Node operators stake DML per role, register an endpoint and keys, unbond after a delay and
///         are slashed by contracts that governance authorised to prove faults.
/// @dev Cross-contract surface (used by GrowthPool, JobMarket, ResultAttestation, FineTuning):
///      `Role`, `isActive`, `activeCount`, `activeAt`, `encryptionKey`, `slash`, `lock`, `unlock`, `lockedOf`,
///      `drawActive`. Keep these signatures stable.
interface INodeStaking {
    /// @notice Operator roles. Each role is staked separately.
    enum Role {
        Distributor,
        Aggregator,
        Attestor,
        Reporter,
        Refiner
    }

    /// @notice An operator's public registration.
    /// @param endpoint URL where the operator's node is reachable.
    /// @param encryptionKey X25519 public key transcripts are encrypted to (never zero once registered).
    /// @param metadata Free-form metadata (e.g. an IPFS CID of a JSON profile).
    struct Operator {
        string endpoint;
        bytes32 encryptionKey;
        string metadata;
    }

    /// @notice An operator's stake in one role.
    /// @param bonded Stake that counts towards activity and can be slashed.
    /// @param unbonding Stake waiting for the unbonding delay (still slashable).
    /// @param unbondReadyAt Timestamp from which `unbonding` can be withdrawn.
    struct StakeInfo {
        uint256 bonded;
        uint256 unbonding;
        uint64 unbondReadyAt;
    }

    // ---------------------------------------------------------------- errors

    /// @notice An amount argument is zero.
    error StakingZeroAmount();
    /// @notice The operator is already registered (use `updateOperator`).
    error StakingAlreadyRegistered(address operator);
    /// @notice The operator is not registered.
    error StakingNotRegistered(address operator);
    /// @notice The endpoint string is empty.
    error StakingEmptyEndpoint();
    /// @notice The X25519 key is zero.
    error StakingZeroKey();
    /// @notice The operator asked to unbond more than its bonded stake.
    error StakingInsufficientStake(uint256 bonded, uint256 requested);
    /// @notice There is nothing unbonding in this role.
    error StakingNothingToWithdraw();
    /// @notice The unbonding delay has not elapsed.
    error StakingUnbondingNotReady(uint64 readyAt);
    /// @notice The caller is not an authorised slasher.
    error StakingUnauthorizedSlasher(address caller);
    /// @notice A minimum stake is zero or does not fit in 96 bits.
    error StakingInvalidMinStake(uint256 minStake);
    /// @notice The unbonding delay is outside [MIN_UNBONDING_DELAY, MAX_UNBONDING_DELAY].
    error StakingInvalidUnbondingDelay(uint64 delay);
    /// @notice The challenger share is above MAX_CHALLENGER_SHARE_BPS.
    error StakingInvalidChallengerShare(uint16 shareBps);
    /// @notice Too many operators are active in one role (index space exhausted).
    error StakingTooManyOperators();
    /// @notice `requested` exceeds the operator's bonded stake that is not locked by a job (`bonded - locked`).
    error StakingStakeLocked(uint256 bonded, uint256 locked, uint256 requested);
    /// @notice A lock would push the operator's total liability past 2^128 − 1.
    error StakingInvalidLock(uint256 total);
    /// @notice `lockMany` / `unlockMany` got operator and role lists of different lengths.
    error StakingLengthMismatch();
    /// @notice `drawActive` was called for a role without any active operator.
    error StakingNoActiveOperators(Role role);

    // ---------------------------------------------------------------- events

    /// @notice An operator registered its endpoint, key and metadata.
    event OperatorRegistered(
        address indexed operator,
        string endpoint,
        bytes32 encryptionKey,
        string metadata
    );
    /// @notice An operator changed its endpoint, key or metadata.
    event OperatorUpdated(address indexed operator, string endpoint, bytes32 encryptionKey, string metadata);
    /// @notice `amount` was added to the operator's bonded stake in `role`; `bonded` is the new total.
    event Staked(address indexed operator, Role indexed role, uint256 amount, uint256 bonded);
    /// @notice `amount` moved from bonded to unbonding; the whole unbonding balance is withdrawable at `readyAt`.
    event UnbondRequested(
        address indexed operator,
        Role indexed role,
        uint256 amount,
        uint256 unbonding,
        uint64 readyAt
    );
    /// @notice The operator withdrew its unbonded stake.
    event Withdrawn(address indexed operator, Role indexed role, uint256 amount);
    /// @notice The operator joined (`active = true`) or left the active set of `role`.
    event ActiveStatusChanged(address indexed operator, Role indexed role, bool active);
    /// @notice `slasher` took `amount` from `operator`: `challengerReward` to `challenger`, `remainder` burned or
    ///         sent to the treasury (`burned`).
    event Slashed(
        address indexed operator,
        Role indexed role,
        address indexed slasher,
        uint256 amount,
        address challenger,
        uint256 challengerReward,
        uint256 remainder,
        bool burned
    );
    /// @notice Module `module` (an authorised slasher) locked `amount` more of `operator`'s bonded stake in `role`;
    ///         `locked` is the operator's new total locked stake in that role.
    event StakeLocked(
        address indexed operator,
        Role indexed role,
        address indexed module,
        uint256 amount,
        uint256 locked
    );
    /// @notice Module `module` released `amount` of `operator`'s locked liability in `role`; `locked` is the new
    ///         total.
    event StakeUnlocked(
        address indexed operator,
        Role indexed role,
        address indexed module,
        uint256 amount,
        uint256 locked
    );
    /// @notice Module `module` locked `amount` more of each `operators[i]`'s bonded stake in `roles[i]`
    ///         (`lockMany`: one event for the batch; each operator's total is `lockedOf`).
    event StakesLocked(address indexed module, address[] operators, Role[] roles, uint256 amount);
    /// @notice Module `module` released up to `amount` of each `operators[i]`'s locked liability in `roles[i]`
    ///         (`unlockMany`; an operator with less locked is released to zero).
    event StakesUnlocked(address indexed module, address[] operators, Role[] roles, uint256 amount);
    /// @notice Governance authorised or revoked a slasher contract.
    event SlasherSet(address indexed slasher, bool allowed);
    /// @notice Governance set the minimum stake of `role`.
    event MinStakeSet(Role indexed role, uint256 minStake);
    /// @notice Governance set the unbonding delay.
    event UnbondingDelaySet(uint64 delay);
    /// @notice Governance set the challenger's share of slashed stake.
    event ChallengerShareSet(uint16 shareBps);
    /// @notice Governance chose whether slashed stake is burned (true) or sent to the treasury (false).
    event BurnSlashedSet(bool burnSlashed);
    /// @notice Governance set the treasury receiving slashed stake when it is not burned.
    event TreasurySet(address indexed treasury);

    // ---------------------------------------------------------------- operators

    /// @notice Registers the caller as an operator (required before staking).
    function register(string calldata endpoint, bytes32 x25519Key, string calldata metadata) external;

    /// @notice Updates the caller's endpoint, key and metadata.
    function updateOperator(string calldata endpoint, bytes32 x25519Key, string calldata metadata) external;

    /// @notice Pulls `amount` tokens from the caller and bonds them in `role`. Requires registration.
    function stake(Role role, uint256 amount) external;

    /// @notice Moves `amount` of bonded stake to unbonding; the unbonding timer restarts for the whole balance.
    ///         Locked stake cannot be unbonded (`StakingStakeLocked`).
    function requestUnbond(Role role, uint256 amount) external;

    /// @notice Withdraws the caller's whole unbonding balance in `role` once the delay has elapsed.
    function withdraw(Role role) external;

    /// @notice Re-evaluates the active-set membership of `operators` in `role` (permissionless), e.g. after
    ///         governance changed the minimum stake.
    function refreshActive(Role role, address[] calldata operators) external;

    // ---------------------------------------------------------------- slashing

    /// @notice Slashes up to `amount` of `operator`'s stake in `role` (bonded first, then unbonding).
    ///         Only contracts authorised by governance may call it. A governance-set share goes to
    ///         `challenger` (zero address or the slashed operator itself: no reward), the rest is burned or sent
    ///         to the treasury. Locks are liabilities and are not changed by a slash.
    /// @return slashed The amount actually taken.
    function slash(
        address operator,
        Role role,
        uint256 amount,
        address challenger
    ) external returns (uint256 slashed);

    /// @notice Adds `amount` to `operator`'s locked liability in `role` for a job of the calling module (an
    ///         authorised slasher) that bound the operator (PROTOCOL.md §7.6). Locked stake stays bonded, counts
    ///         towards activity and draw weight, and cannot be moved to unbonding until it is unlocked. The
    ///         liability may exceed the bonded stake (then nothing can be unbonded; a slash still takes at most the
    ///         stake): each module later unlocks exactly what it locked, so one job never frees another's lock.
    /// @return locked `amount`.
    function lock(address operator, Role role, uint256 amount) external returns (uint256 locked);

    /// @notice Releases `amount` of `operator`'s locked liability in `role` (what the module locked for a job now
    ///         terminal). Only authorised slashers. Never reverts: it clamps at zero.
    function unlock(address operator, Role role, uint256 amount) external;

    /// @notice `lock(operators[i], roles[i], amount)` for every i, in one call (a job binds several nodes).
    function lockMany(address[] calldata operators, Role[] calldata roles, uint256 amount) external;

    /// @notice `unlock(operators[i], roles[i], amount)` for every i, in one call.
    function unlockMany(address[] calldata operators, Role[] calldata roles, uint256 amount) external;

    // ---------------------------------------------------------------- governance

    /// @notice Authorises (or revokes) `slasher` to call `slash`. Only governance.
    function setSlasher(address slasher, bool allowed) external;

    /// @notice Sets the minimum bonded stake for `role` to be active. Only governance.
    function setMinStake(Role role, uint256 minStake) external;

    /// @notice Sets the unbonding delay (bounded). Only governance.
    function setUnbondingDelay(uint64 delay) external;

    /// @notice Sets the challenger's share of slashed stake in bps (bounded). Only governance.
    function setChallengerShareBps(uint16 shareBps) external;

    /// @notice Chooses between burning slashed stake and sending it to the treasury. Only governance.
    function setBurnSlashed(bool burnSlashed) external;

    /// @notice Sets the treasury that receives slashed stake when it is not burned. Only governance.
    function setTreasury(address treasury) external;

    // ---------------------------------------------------------------- views

    /// @notice True when `operator` has at least the minimum stake in `role` and is not unbonding it.
    function isActive(address operator, Role role) external view returns (bool);

    /// @notice Number of active operators in `role`.
    function activeCount(Role role) external view returns (uint256);

    /// @notice The active operator of `role` at `index` (order is not stable across stake changes).
    function activeAt(Role role, uint256 index) external view returns (address);

    /// @notice Liability of `operator` in `role` locked by jobs that bound it; only `stakeOf − lockedOf` (if
    ///         positive) can be unbonded. May exceed `stakeOf`.
    function lockedOf(address operator, Role role) external view returns (uint256);

    /// @notice Draws an active operator of `role` with probability proportional to its bonded stake (locked
    ///         stake included, unbonding stake excluded): the operator whose cumulative-stake interval over the
    ///         active list contains `random % totalActiveStake(role)`. O(log n) storage reads (sum tree).
    ///         Reverts `StakingNoActiveOperators` when the role has none. Like `activeAt`, it draws from the
    ///         active list, which lags a minimum-stake change until `refreshActive`.
    function drawActive(Role role, uint256 random) external view returns (address);

    /// @notice Sum of the bonded stakes of the active operators of `role` (the draw's total weight).
    function totalActiveStake(Role role) external view returns (uint256);

    /// @notice The operator's registered X25519 public key (transcripts are encrypted to it).
    function encryptionKey(address operator) external view returns (bytes32);

    /// @notice Stake currently bonded by `operator` in `role` (excludes stake that is unbonding).
    function stakeOf(address operator, Role role) external view returns (uint256);

    /// @notice Bonded stake, unbonding stake and unbonding-ready time of `operator` in `role`.
    function stakeInfo(address operator, Role role) external view returns (StakeInfo memory);

    /// @notice The operator's registration (empty when not registered).
    function operatorInfo(address operator) external view returns (Operator memory);

    /// @notice True when `operator` has registered.
    function isRegistered(address operator) external view returns (bool);

    /// @notice True when `slasher` may call `slash`.
    function isSlasher(address slasher) external view returns (bool);

    /// @notice Minimum bonded stake for `role`.
    function minStake(Role role) external view returns (uint256);

    /// @notice Delay between `requestUnbond` and `withdraw`, in seconds.
    function unbondingDelay() external view returns (uint64);

    /// @notice Challenger's share of slashed stake, in bps.
    function challengerShareBps() external view returns (uint16);

    /// @notice True when slashed stake (minus the challenger's share) is burned rather than sent to the treasury.
    function burnSlashed() external view returns (bool);

    /// @notice The treasury receiving slashed stake when it is not burned.
    function treasury() external view returns (address);

    /// @notice The staked token.
    function token() external view returns (address);
}
