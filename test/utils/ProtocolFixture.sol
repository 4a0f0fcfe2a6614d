// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {IGovernor} from "@openzeppelin/contracts/governance/IGovernor.sol";
import {IVotes} from "@openzeppelin/contracts/governance/utils/IVotes.sol";
import {BaseTest} from "./BaseTest.sol";
import {DMLToken} from "../../contracts/DMLToken.sol";
import {DMLGovernor} from "../../contracts/governance/DMLGovernor.sol";
import {NodeStaking} from "../../contracts/NodeStaking.sol";
import {DeviceRegistry} from "../../contracts/DeviceRegistry.sol";
import {INodeStaking} from "../../contracts/interfaces/INodeStaking.sol";
import {IDeviceRegistry} from "../../contracts/interfaces/IDeviceRegistry.sol";

/// @title ProtocolFixture
/// @notice Deploys the whole protocol exactly as `script/deploy.ts` does:
///         1. TimelockController(minDelay 0, proposer/canceller = deployer, executor = anyone, admin = deployer);
///         2. DMLToken(treasury = timelock, growthPool = predicted GrowthPool proxy address);
///         3. DMLGovernor over the token and timelock;
///         4. NodeStaking and DeviceRegistry behind ERC1967 proxies, governance = timelock;
///         5. VRFCoordinatorV2_5Mock, GrowthPool implementation + proxy (at the predicted address), subscription;
///         6. genesis: the timelock executes (delay 0) the genesis allocations (`DMLToken.allocate`: self-delegated
///            holders) and `updateDelay(2 days)`;
///         7. roles: governor = proposer + canceller, deployer loses every role, admin renounced.
///         Afterwards only governance proposals move treasury funds, upgrade proxies or change parameters.
abstract contract ProtocolFixture is BaseTest {
    // ---------------------------------------------------------------- governance parameters
    uint256 internal constant TIMELOCK_MIN_DELAY = 2 days;
    uint48 internal constant VOTING_DELAY = 1 days;
    uint32 internal constant VOTING_PERIOD = 5 days;
    uint256 internal constant PROPOSAL_THRESHOLD = 1_000_000 ether; // 0.1% of supply
    uint256 internal constant QUORUM_PERCENT = 4;

    // ---------------------------------------------------------------- staking parameters
    uint256 internal constant MIN_STAKE_DISTRIBUTOR = 10_000 ether;
    uint256 internal constant MIN_STAKE_AGGREGATOR = 10_000 ether;
    uint256 internal constant MIN_STAKE_ATTESTOR = 5_000 ether;
    uint256 internal constant MIN_STAKE_REPORTER = 5_000 ether;
    uint256 internal constant MIN_STAKE_REFINER = 5_000 ether;
    uint64 internal constant UNBONDING_DELAY = 7 days;
    uint16 internal constant CHALLENGER_SHARE_BPS = 1_000; // 10%
    bool internal constant BURN_SLASHED = true;

    // ---------------------------------------------------------------- device registry parameters
    uint256 internal constant DEVICE_BOND = 10 ether;

    // ---------------------------------------------------------------- growth pool / VRF parameters
    uint64 internal constant EPOCH_LENGTH = 1 days;
    uint32 internal constant HALVING_EPOCHS = 365;
    uint32 internal constant WINNERS_PER_EPOCH = 10;
    uint64 internal constant CLAIM_WINDOW = 30 days;
    bytes32 internal constant VRF_KEY_HASH = keccak256("dml.vrf.keyHash");
    uint16 internal constant VRF_CONFIRMATIONS = 3;
    uint32 internal constant VRF_CALLBACK_GAS = 500_000;

    // ---------------------------------------------------------------- genesis allocations (from the treasury)
    uint256 internal constant GENESIS_VOTER = 30_000_000 ether; // alice and bob: 3% each
    uint256 internal constant GENESIS_MINOR = 10_000_000 ether; // carol and dave: 1% each
    uint256 internal constant GENESIS_FAUCET = 100_000_000 ether; // test faucet for operators and customers

    /// @dev Block timestamp at deployment (2025-06-15).
    uint256 internal constant GENESIS_TIME = 1_750_000_000;

    address internal faucet = makeAddr("faucet");

    TimelockController internal timelock;
    DMLToken internal token;
    DMLGovernor internal governor;
    NodeStaking internal staking;
    NodeStaking internal stakingImpl;
    DeviceRegistry internal registry;
    DeviceRegistry internal registryImpl;
    /// @dev The GrowthPool proxy address (predicted before the token is deployed).
    address internal growthPoolAddress;

    function setUp() public virtual {
        _deployProtocol();
    }

    function _deployProtocol() internal {
        // A realistic clock (the test EVM starts at timestamp 1, which the timelock reads as "done").
        vm.warp(GENESIS_TIME);
        vm.startPrank(deployer);

        // 1. Timelock with zero delay so the genesis batch can run in the deployment; raised to 2 days below.
        address[] memory bootstrap = new address[](1);
        bootstrap[0] = deployer;
        address[] memory anyone = new address[](1);
        anyone[0] = address(0);
        timelock = new TimelockController(0, bootstrap, anyone, deployer);

        // 2. Token: the GrowthPool proxy is the last contract the deployer creates before the genesis batch.
        growthPoolAddress = vm.computeCreateAddress(deployer, vm.getNonce(deployer) + 5 + _growthCreates());
        token = new DMLToken(address(timelock), growthPoolAddress); // +0

        _deployGovernor(); // +1
        _deployCore(); // +2 .. +5

        // 5. VRF coordinator and GrowthPool (see GrowthFixture); creates `_growthCreates()` contracts.
        _deployGrowthPool();

        _genesis();
        _handOver();
        vm.stopPrank();
        _label();
    }

    /// @dev 3. Governor.
    function _deployGovernor() private {
        governor = new DMLGovernor(
            IVotes(address(token)),
            timelock,
            VOTING_DELAY,
            VOTING_PERIOD,
            PROPOSAL_THRESHOLD,
            QUORUM_PERCENT
        );
    }

    /// @dev 4. Core proxies, governance = timelock.
    function _deployCore() private {
        stakingImpl = new NodeStaking(); // +2
        staking = NodeStaking(
            deployProxy(
                // +3
                address(stakingImpl),
                abi.encodeCall(
                    NodeStaking.initialize,
                    (
                        address(timelock),
                        IERC20(address(token)),
                        address(timelock),
                        _minStakes(),
                        UNBONDING_DELAY,
                        CHALLENGER_SHARE_BPS,
                        BURN_SLASHED
                    )
                )
            )
        );
        registryImpl = new DeviceRegistry(); // +4
        registry = DeviceRegistry(
            deployProxy(
                address(registryImpl),
                abi.encodeCall(
                    DeviceRegistry.initialize,
                    (address(timelock), IERC20(address(token)), DEVICE_BOND)
                )
            ) // +5
        );
    }

    /// @dev 6. Genesis allocations + the real timelock delay, executed by the timelock itself.
    function _genesis() private {
        (address[] memory targets, uint256[] memory values, bytes[] memory calldatas) = _genesisBatch();
        timelock.scheduleBatch(targets, values, calldatas, bytes32(0), keccak256("dml.genesis"), 0);
        timelock.executeBatch(targets, values, calldatas, bytes32(0), keccak256("dml.genesis"));
    }

    /// @dev 7. Hand the timelock to the governor.
    function _handOver() private {
        timelock.grantRole(timelock.PROPOSER_ROLE(), address(governor));
        timelock.grantRole(timelock.CANCELLER_ROLE(), address(governor));
        timelock.revokeRole(timelock.PROPOSER_ROLE(), deployer);
        timelock.revokeRole(timelock.CANCELLER_ROLE(), deployer);
        timelock.renounceRole(timelock.DEFAULT_ADMIN_ROLE(), deployer);
    }

    function _label() private {
        vm.label(address(timelock), "timelock");
        vm.label(address(token), "DMLToken");
        vm.label(address(governor), "DMLGovernor");
        vm.label(address(staking), "NodeStaking");
        vm.label(address(registry), "DeviceRegistry");
        vm.label(growthPoolAddress, "GrowthPool");
    }

    /// @dev Number of contracts `_deployGrowthPool` creates; the last one is the GrowthPool proxy. The core
    ///      fixture deploys no pool (1 = the address an absent 7th contract would get, which only holds the 9%).
    function _growthCreates() internal pure virtual returns (uint256) {
        return 1;
    }

    /// @dev Hook: deploys the VRF coordinator and the GrowthPool (see test/utils/GrowthFixture.sol), with the
    ///      proxy at `growthPoolAddress`. Kept out of the core fixture so core test jobs stay small (the wasm
    ///      solc build crashes on large compilation jobs).
    function _deployGrowthPool() internal virtual {}

    function _minStakes() internal pure returns (uint256[5] memory m) {
        m = [
            MIN_STAKE_DISTRIBUTOR,
            MIN_STAKE_AGGREGATOR,
            MIN_STAKE_ATTESTOR,
            MIN_STAKE_REPORTER,
            MIN_STAKE_REFINER
        ];
    }

    function _genesisBatch()
        internal
        view
        returns (address[] memory targets, uint256[] memory values, bytes[] memory calldatas)
    {
        targets = new address[](6);
        values = new uint256[](6);
        calldatas = new bytes[](6);
        address[5] memory to = [alice, bob, carol, dave, faucet];
        uint256[5] memory amount = [
            GENESIS_VOTER,
            GENESIS_VOTER,
            GENESIS_MINOR,
            GENESIS_MINOR,
            GENESIS_FAUCET
        ];
        for (uint256 i = 0; i < 5; ++i) {
            targets[i] = address(token);
            // allocate: the recipient votes from day one (PROTOCOL.md §7.8), as script/deploy.ts does
            calldatas[i] = abi.encodeCall(DMLToken.allocate, (to[i], amount[i]));
        }
        targets[5] = address(timelock);
        calldatas[5] = abi.encodeCall(TimelockController.updateDelay, (TIMELOCK_MIN_DELAY));
    }

    // ---------------------------------------------------------------- helpers

    /// @dev Sends `amount` tokens from the genesis faucet to `to`.
    function _fund(address to, uint256 amount) internal {
        vm.prank(faucet);
        token.transfer(to, amount);
    }

    /// @dev Registers `operator` if needed, funds it from the faucet and stakes `amount` in `role`.
    function _stakeAs(address operator, INodeStaking.Role role, uint256 amount) internal {
        if (!staking.isRegistered(operator)) {
            vm.prank(operator);
            staking.register(
                "https://node.dml.example",
                keccak256(abi.encode("x25519", operator)),
                "ipfs://meta"
            );
        }
        _fund(operator, amount);
        vm.startPrank(operator);
        token.approve(address(staking), amount);
        staking.stake(role, amount);
        vm.stopPrank();
    }

    /// @dev Registers device `key` serving `schema` with any-algorithm consent and no price floor; funds and
    ///      approves its bond from the faucet first.
    function _registerDevice(address key, bytes32 schema) internal {
        bytes32[] memory schemas = new bytes32[](1);
        schemas[0] = schema;
        uint256 bond = registry.deviceBond();
        _fund(key, bond);
        vm.startPrank(key);
        token.approve(address(registry), bond);
        registry.register(schemas, IDeviceRegistry.Consent(true, new uint256[](0), 0));
        vm.stopPrank();
    }

    /// @dev Runs a proposal through the full lifecycle: alice and bob delegate to themselves, alice proposes,
    ///      both vote For, it is queued in the timelock and executed after the delay.
    function _executeProposal(
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        string memory description
    ) internal returns (uint256 proposalId) {
        proposalId = _proposeAndPass(targets, values, calldatas, description);
        bytes32 descriptionHash = keccak256(bytes(description));
        governor.queue(targets, values, calldatas, descriptionHash);
        vm.warp(block.timestamp + TIMELOCK_MIN_DELAY + 1);
        governor.execute(targets, values, calldatas, descriptionHash);
    }

    /// @dev Delegates, proposes and votes a proposal until it has Succeeded (not queued).
    function _proposeAndPass(
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        string memory description
    ) internal returns (uint256 proposalId) {
        _delegateVoters();
        vm.prank(alice);
        proposalId = governor.propose(targets, values, calldatas, description);
        vm.warp(block.timestamp + VOTING_DELAY + 1);
        vm.prank(alice);
        governor.castVote(proposalId, 1);
        vm.prank(bob);
        governor.castVote(proposalId, 1);
        vm.warp(block.timestamp + VOTING_PERIOD + 1);
        require(
            governor.state(proposalId) == IGovernor.ProposalState.Succeeded,
            "fixture: proposal did not pass"
        );
    }

    /// @dev Alice and bob delegate to themselves (once) and one second passes so the votes are checkpointed.
    function _delegateVoters() internal {
        if (token.delegates(alice) != alice) {
            vm.prank(alice);
            token.delegate(alice);
        }
        if (token.delegates(bob) != bob) {
            vm.prank(bob);
            token.delegate(bob);
        }
        vm.warp(block.timestamp + 1);
    }

    /// @dev A one-call proposal.
    function _executeSingle(
        address target,
        bytes memory data,
        string memory description
    ) internal returns (uint256) {
        address[] memory targets = new address[](1);
        targets[0] = target;
        uint256[] memory values = new uint256[](1);
        bytes[] memory calldatas = new bytes[](1);
        calldatas[0] = data;
        return _executeProposal(targets, values, calldatas, description);
    }
}
