// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {IGovernor} from "@openzeppelin/contracts/governance/IGovernor.sol";
import {IVotes} from "@openzeppelin/contracts/governance/utils/IVotes.sol";
import {VRFCoordinatorV2_5Mock} from "@chainlink/contracts/src/v0.8/vrf/mocks/VRFCoordinatorV2_5Mock.sol";
import {BaseTest} from "./BaseTest.sol";
import {DMLToken} from "../../contracts/DMLToken.sol";
import {DMLGovernor} from "../../contracts/governance/DMLGovernor.sol";
import {NodeStaking} from "../../contracts/NodeStaking.sol";
import {DeviceRegistry} from "../../contracts/DeviceRegistry.sol";
import {GrowthPool} from "../../contracts/GrowthPool.sol";
import {AlgorithmMarketplace} from "../../contracts/AlgorithmMarketplace.sol";
import {PaymentChannels} from "../../contracts/PaymentChannels.sol";
import {JobMarket} from "../../contracts/JobMarket.sol";
import {ResultAttestation} from "../../contracts/ResultAttestation.sol";
import {Settlement} from "../../contracts/Settlement.sol";
import {FineTuning} from "../../contracts/FineTuning.sol";
import {IGovernedUUPS} from "../../contracts/interfaces/IGovernedUUPS.sol";
import {INodeStaking} from "../../contracts/interfaces/INodeStaking.sol";
import {IDeviceRegistry} from "../../contracts/interfaces/IDeviceRegistry.sol";
import {IGrowthPool} from "../../contracts/interfaces/IGrowthPool.sol";
import {IAlgorithmMarketplace} from "../../contracts/interfaces/IAlgorithmMarketplace.sol";
import {IJobMarket} from "../../contracts/interfaces/IJobMarket.sol";
import {IResultAttestation} from "../../contracts/interfaces/IResultAttestation.sol";
import {IFineTuning} from "../../contracts/interfaces/IFineTuning.sol";

/// @notice The one call that assigns a job's cohort through ResultAttestation (the distributor's transaction).
///         Every test, fixture helper and handler assigns cohorts through here, so a change of
///         `ResultAttestation.assignCohort`'s signature is made in this one place.
library Cohorts {
    /// @dev Cohort assignment of `jobId`, drawn from the connected set of growth epoch `connectedEpoch` (call it
    ///      while pranking the distributor).
    function assign(
        IResultAttestation ra,
        uint256 jobId,
        bytes32 cohortRoot,
        uint32 deviceCount,
        string memory cohortCid,
        address aggregator,
        uint256 connectedEpoch
    ) internal {
        ra.assignCohort(jobId, cohortRoot, deviceCount, cohortCid, aggregator, connectedEpoch);
    }
}

/// @title ProtocolFixture
/// @notice THE Solidity test fixture: deploys and wires exactly the stack `script/deploy.ts` (with
///         `script/deploy-steps/attestation.ts`) deploys, in the same order, through the same ERC1967 proxies and
///         initialisers, from the same deployer:
///          1. NodeStaking, DeviceRegistry and GrowthPool implementations;
///          2. TimelockController(minDelay 0, proposer/canceller = deployer, executor = anyone, admin = deployer);
///          3. Chainlink's VRFCoordinatorV2_5Mock with a subscription funded in LINK and native;
///          4. DMLToken(treasury = timelock, growthPool = predicted pool proxy), then back to back the NodeStaking,
///             DeviceRegistry and GrowthPool proxies; the pool is a VRF consumer and a staking slasher;
///          5. DMLGovernor over the token and timelock;
///          6. AlgorithmMarketplace, PaymentChannels and JobMarket proxies;
///          7. ResultAttestation, Settlement and FineTuning proxies; NodeStaking slashers (ResultAttestation,
///             FineTuning), JobMarket modules (attestation, settlement), marketplace publisher (FineTuning);
///          8. genesis: the timelock executes (delay 0) the genesis allocations (`DMLToken.allocate`) and
///             `updateDelay`;
///          9. the governor becomes proposer and canceller, every proxy's governance goes to the timelock, the
///             deployer gives up every timelock role.
///         Every proxy is initialised with the deployer as governance and handed to the timelock at the end, as
///         the script does. Afterwards `governance` (= the timelock) is the only governor: tests prank it for
///         parameter calls or run real proposals (`_executeProposal`).
///
///         Parameters come from `_deployConfig()`, an overridable hook (defaults: the constants below). A domain layer
///         (e.g. test/utils/LifecycleFixture.sol) overrides it to run the same deployment with the parameters
///         its assertions were written for; domain layers add helpers only, never a deployment of their own.
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
    uint64 internal constant POOL_CHALLENGE_WINDOW = 1 days;
    uint96 internal constant POOL_SLASH = 10_000 ether;
    bytes32 internal constant VRF_KEY_HASH = keccak256("dml.vrf.keyHash");
    uint16 internal constant VRF_CONFIRMATIONS = 3;
    uint32 internal constant VRF_CALLBACK_GAS = 500_000;
    /// @dev Chainlink mock pricing and the dev subscription's funding (script/lib/config.ts `vrf.mock`).
    uint96 internal constant VRF_BASE_FEE = 0.1 ether;
    uint96 internal constant VRF_GAS_PRICE = 1 gwei;
    int256 internal constant VRF_WEI_PER_UNIT_LINK = 4e15;
    uint256 internal constant VRF_FUND_LINK = 1_000 ether;
    uint256 internal constant VRF_FUND_NATIVE = 100 ether;

    // ---------------------------------------------------------------- marketplace / jobs / attestation parameters
    uint16 internal constant MARKETPLACE_FEE_BPS = 250;
    uint16 internal constant MARKETPLACE_PARENT_SHARE_BPS = 1_000;
    uint64 internal constant SETTLEMENT_CLAIM_WINDOW = 30 days;

    // ---------------------------------------------------------------- genesis allocations (from the treasury)
    uint256 internal constant GENESIS_VOTER = 30_000_000 ether; // alice and bob: 3% each
    uint256 internal constant GENESIS_MINOR = 10_000_000 ether; // carol and dave: 1% each
    uint256 internal constant GENESIS_FAUCET = 100_000_000 ether; // test faucet for operators and customers

    /// @dev Block timestamp at deployment (2025-06-15).
    uint256 internal constant GENESIS_TIME = 1_750_000_000;

    // ---------------------------------------------------------------- job defaults (helpers below)
    bytes32 internal constant SCHEMA = keccak256("email/rfc822-v1");
    bytes32 internal constant MODEL = 0xd7c4b743081e6ccdf263598ab3a94f5df38c9f2aec014973c0806819d7762f26; // sha256("model.onnx")
    string internal constant PKG = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";
    uint256 internal constant USE_PRICE = 5 ether;
    uint256 internal constant LICENCE_PRICE = 100 ether;
    uint96 internal constant REWARD = 2 ether;
    uint32 internal constant MAX_DEVICES = 50;

    /// @notice Every deployment parameter (script/lib/config.ts and script/deploy-steps/attestation-config.ts).
    struct Config {
        uint256 timelockDelay;
        /// @dev Genesis allocations paid by the timelock (script/lib/config.ts `genesis.allocations`).
        address[] genesisTo;
        uint256[] genesisAmounts;
        /// @dev Treasury of NodeStaking and JobMarket; 0 = the timelock (as the script).
        address treasury;
        /// @dev Treasury of the AlgorithmMarketplace; 0 = the timelock (as the script).
        address marketTreasury;
        uint48 votingDelay;
        uint32 votingPeriod;
        uint256 proposalThreshold;
        uint256 quorumPercent;
        uint256[5] minStakes;
        uint64 unbondingDelay;
        uint16 challengerShareBps;
        bool burnSlashed;
        uint256 deviceBond;
        /// @dev GrowthPool epoch 0 start; 0 = the deployment block's timestamp (as the script's default).
        uint64 poolGenesis;
        uint64 poolEpochLength;
        uint32 halvingEpochs;
        uint32 winnersPerEpoch;
        uint64 poolClaimWindow;
        uint64 poolChallengeWindow;
        uint96 poolSlashAmount;
        bytes32 vrfKeyHash;
        uint16 vrfConfirmations;
        uint32 vrfCallbackGas;
        uint16 marketFeeBps;
        uint16 parentShareBps;
        IJobMarket.Params jobMarket;
        IResultAttestation.Params attestation;
        uint64 settlementClaimWindow;
        IFineTuning.Params fineTuning;
    }

    // ---------------------------------------------------------------- actors
    address internal faucet = makeAddr("faucet");
    address internal developer = makeAddr("developer");
    address internal customer = makeAddr("customer");
    address internal distributor = makeAddr("distributor");
    address internal aggregator = makeAddr("aggregator");
    address internal reporter = makeAddr("reporter");
    address internal refiner = makeAddr("refiner");
    address internal keeper = makeAddr("keeper");
    /// @dev Governance of every proxy after deployment: the timelock.
    address internal governance;

    // ---------------------------------------------------------------- the deployment
    Config internal cfg;
    TimelockController internal timelock;
    DMLToken internal token;
    DMLGovernor internal governor;
    VRFCoordinatorV2_5Mock internal coordinator;
    uint256 internal subId;
    NodeStaking internal staking;
    NodeStaking internal stakingImpl;
    DeviceRegistry internal registry;
    DeviceRegistry internal registryImpl;
    GrowthPool internal pool;
    GrowthPool internal poolImpl;
    /// @dev The GrowthPool proxy address (predicted before the token is deployed; = `address(pool)`).
    address internal growthPoolAddress;
    /// @dev The growth epoch whose connected set `_postConnectedSet` last made stand.
    uint256 internal standingEpoch;
    AlgorithmMarketplace internal market;
    PaymentChannels internal channels;
    JobMarket internal jm;
    ResultAttestation internal ra;
    Settlement internal settlement;
    FineTuning internal ft;

    function setUp() public virtual {
        _deployProtocol();
    }

    // ================================================================ configuration hook

    /// @dev The deployment parameters. Override (calling `super._deployConfig()` and changing fields) to deploy the same
    ///      stack with other parameters.
    function _deployConfig() internal view virtual returns (Config memory c) {
        c.timelockDelay = TIMELOCK_MIN_DELAY;
        c.genesisTo = new address[](5);
        c.genesisAmounts = new uint256[](5);
        (c.genesisTo[0], c.genesisAmounts[0]) = (alice, GENESIS_VOTER);
        (c.genesisTo[1], c.genesisAmounts[1]) = (bob, GENESIS_VOTER);
        (c.genesisTo[2], c.genesisAmounts[2]) = (carol, GENESIS_MINOR);
        (c.genesisTo[3], c.genesisAmounts[3]) = (dave, GENESIS_MINOR);
        (c.genesisTo[4], c.genesisAmounts[4]) = (faucet, GENESIS_FAUCET);
        c.votingDelay = VOTING_DELAY;
        c.votingPeriod = VOTING_PERIOD;
        c.proposalThreshold = PROPOSAL_THRESHOLD;
        c.quorumPercent = QUORUM_PERCENT;
        c.minStakes = _minStakes();
        c.unbondingDelay = UNBONDING_DELAY;
        c.challengerShareBps = CHALLENGER_SHARE_BPS;
        c.burnSlashed = BURN_SLASHED;
        c.deviceBond = DEVICE_BOND;
        c.poolEpochLength = EPOCH_LENGTH;
        c.halvingEpochs = HALVING_EPOCHS;
        c.winnersPerEpoch = WINNERS_PER_EPOCH;
        c.poolClaimWindow = CLAIM_WINDOW;
        c.poolChallengeWindow = POOL_CHALLENGE_WINDOW;
        c.poolSlashAmount = POOL_SLASH;
        c.vrfKeyHash = VRF_KEY_HASH;
        c.vrfConfirmations = VRF_CONFIRMATIONS;
        c.vrfCallbackGas = VRF_CALLBACK_GAS;
        c.marketFeeBps = MARKETPLACE_FEE_BPS;
        c.parentShareBps = MARKETPLACE_PARENT_SHARE_BPS;
        c.jobMarket = _defaultJobParams();
        c.attestation = IResultAttestation.Params({
            quorum: 3,
            commitWindowBps: 4_000,
            revealWindowBps: 4_000,
            slashAmount: 100 ether,
            kMin: 5
        });
        c.settlementClaimWindow = SETTLEMENT_CLAIM_WINDOW;
        c.fineTuning = IFineTuning.Params({
            quorum: 3,
            commitWindow: 1 days,
            revealWindow: 1 days,
            slashAmount: 100 ether,
            claimWindow: 30 days,
            attestorShareBps: 1_000
        });
    }

    /// @dev Genesis that pays (nearly) the whole treasury to the faucet and nothing to alice..dave: for suites
    ///      written against a freshly minted token whose actors hold only what their setUp gives them.
    function _faucetOnlyGenesis(Config memory c) internal view {
        c.genesisTo = new address[](1);
        c.genesisAmounts = new uint256[](1);
        (c.genesisTo[0], c.genesisAmounts[0]) = (faucet, 900_000_000 ether);
    }

    /// @dev script/lib/config.ts `jobMarket` defaults.
    function _defaultJobParams() internal pure returns (IJobMarket.Params memory p) {
        p.epochLength = 1 hours;
        p.commitWindow = 30 minutes;
        p.revealWindow = 20 minutes;
        p.capacity = 4;
        p.maxBidsPerEpoch = 64;
        p.reservePrice = 1 ether;
        p.unrevealedPenaltyBps = 1_000;
        p.fees = IJobMarket.FeeBps({
            distributor: 200,
            aggregator: 300,
            attestors: 300,
            reporter: 200,
            protocol: 250,
            royalty: 500
        });
        p.minPhaseDuration = 10 minutes;
        p.maxPhaseDuration = 30 days;
    }

    function _minStakes() internal pure returns (uint256[5] memory m) {
        m = [
            MIN_STAKE_DISTRIBUTOR,
            MIN_STAKE_AGGREGATOR,
            MIN_STAKE_ATTESTOR,
            MIN_STAKE_REPORTER,
            MIN_STAKE_REFINER
        ];
    }

    // ================================================================ deployment (script/deploy.ts order)

    function _deployProtocol() internal {
        // A realistic clock (the test EVM starts at timestamp 1, which the timelock reads as "done").
        vm.warp(GENESIS_TIME);
        cfg = _deployConfig();
        vm.deal(deployer, 1_000 ether);
        vm.startPrank(deployer);

        // 1. Implementations needed before the token (only the token and the proxies may follow it).
        stakingImpl = new NodeStaking();
        registryImpl = new DeviceRegistry();
        poolImpl = new GrowthPool();

        // 2. Timelock with zero delay so the genesis batch runs in the deployment; raised by the batch.
        address[] memory bootstrap = new address[](1);
        bootstrap[0] = deployer;
        address[] memory anyone = new address[](1);
        anyone[0] = address(0);
        timelock = new TimelockController(0, bootstrap, anyone, deployer);

        // 3. VRF: Chainlink's mock and a funded subscription (the dev chain's).
        _deployVrf();

        // 4. Token, then back to back the staking, registry and pool proxies (the token mints 9% to the pool).
        growthPoolAddress = vm.computeCreateAddress(deployer, vm.getNonce(deployer) + 3);
        token = new DMLToken(address(timelock), growthPoolAddress);
        _deployCore();
        _deployGrowthPool();

        // 5. Governor.
        governor = new DMLGovernor(
            IVotes(address(token)),
            timelock,
            cfg.votingDelay,
            cfg.votingPeriod,
            cfg.proposalThreshold,
            cfg.quorumPercent
        );

        // 6. Marketplace, payment channels, job market; 6a. attestation, settlement, fine-tuning and wiring.
        _deployMarkets();
        _deployAttestation();
        _wireAttestation();

        // 6b. Genesis; 7. governor roles; 8. proxies to the timelock; 9. the deployer renounces.
        _genesis();
        _grantGovernorRoles();
        _transferGovernance();
        _renounce();
        vm.stopPrank();
        governance = address(timelock);
        _label();
    }

    /// @dev Treasury of NodeStaking and JobMarket.
    function _treasury() internal view returns (address) {
        return cfg.treasury == address(0) ? address(timelock) : cfg.treasury;
    }

    function _deployVrf() private {
        coordinator = new VRFCoordinatorV2_5Mock(VRF_BASE_FEE, VRF_GAS_PRICE, VRF_WEI_PER_UNIT_LINK);
        subId = coordinator.createSubscription();
        coordinator.fundSubscription(subId, VRF_FUND_LINK);
        coordinator.fundSubscriptionWithNative{value: VRF_FUND_NATIVE}(subId);
    }

    function _deployCore() private {
        staking = NodeStaking(
            deployProxy(
                address(stakingImpl),
                abi.encodeCall(
                    NodeStaking.initialize,
                    (
                        deployer,
                        IERC20(address(token)),
                        _treasury(),
                        cfg.minStakes,
                        cfg.unbondingDelay,
                        cfg.challengerShareBps,
                        cfg.burnSlashed
                    )
                )
            )
        );
        registry = DeviceRegistry(
            deployProxy(
                address(registryImpl),
                abi.encodeCall(DeviceRegistry.initialize, (deployer, IERC20(address(token)), cfg.deviceBond))
            )
        );
    }

    function _deployGrowthPool() private {
        pool = GrowthPool(deployProxy(address(poolImpl), _poolInitData()));
        require(address(pool) == growthPoolAddress, "fixture: pool proxy address prediction");
        coordinator.addConsumer(subId, address(pool));
        // The pool slashes distributors whose posts are proven faulty (PROTOCOL.md §7.2).
        staking.setSlasher(address(pool), true);
    }

    /// @dev The GrowthPool initializer call with the configured parameters (deployer-governed, as the script).
    function _poolInitData() internal view returns (bytes memory) {
        return
            abi.encodeCall(
                GrowthPool.initialize,
                (
                    deployer,
                    IERC20(address(token)),
                    INodeStaking(address(staking)),
                    IDeviceRegistry(address(registry)),
                    _poolConfig(),
                    _poolVrf(),
                    _poolChallenge()
                )
            );
    }

    function _poolConfig() internal view returns (IGrowthPool.Config memory) {
        return
            IGrowthPool.Config({
                genesis: cfg.poolGenesis == 0 ? uint64(block.timestamp) : cfg.poolGenesis,
                epochLength: cfg.poolEpochLength,
                halvingEpochs: cfg.halvingEpochs,
                winnersPerEpoch: cfg.winnersPerEpoch,
                claimWindow: cfg.poolClaimWindow
            });
    }

    function _poolVrf() internal view returns (IGrowthPool.VrfConfig memory) {
        return
            IGrowthPool.VrfConfig({
                coordinator: address(coordinator),
                keyHash: cfg.vrfKeyHash,
                subscriptionId: subId,
                requestConfirmations: cfg.vrfConfirmations,
                callbackGasLimit: cfg.vrfCallbackGas
            });
    }

    function _poolChallenge() internal view returns (IGrowthPool.ChallengeConfig memory) {
        return
            IGrowthPool.ChallengeConfig({
                challengeWindow: cfg.poolChallengeWindow,
                slashAmount: cfg.poolSlashAmount
            });
    }

    function _deployMarkets() private {
        market = AlgorithmMarketplace(
            deployProxy(
                address(new AlgorithmMarketplace()),
                abi.encodeCall(
                    AlgorithmMarketplace.initialize,
                    (
                        deployer,
                        IERC20(address(token)),
                        cfg.marketTreasury == address(0) ? address(timelock) : cfg.marketTreasury,
                        cfg.marketFeeBps,
                        cfg.parentShareBps
                    )
                )
            )
        );
        channels = PaymentChannels(
            deployProxy(
                address(new PaymentChannels()),
                abi.encodeCall(PaymentChannels.initialize, (deployer, IERC20(address(token))))
            )
        );
        jm = JobMarket(
            deployProxy(
                address(new JobMarket()),
                abi.encodeCall(
                    JobMarket.initialize,
                    (
                        deployer,
                        IERC20(address(token)),
                        IAlgorithmMarketplace(address(market)),
                        INodeStaking(address(staking)),
                        IDeviceRegistry(address(registry)),
                        _treasury(),
                        cfg.jobMarket
                    )
                )
            )
        );
    }

    function _deployAttestation() private {
        ra = ResultAttestation(
            deployProxy(
                address(new ResultAttestation()),
                abi.encodeCall(
                    ResultAttestation.initialize,
                    (
                        deployer,
                        jm,
                        INodeStaking(address(staking)),
                        IGrowthPool(address(pool)),
                        cfg.attestation
                    )
                )
            )
        );
        settlement = Settlement(
            deployProxy(
                address(new Settlement(IERC20(address(token)))),
                abi.encodeCall(Settlement.initialize, (deployer, jm, ra, cfg.settlementClaimWindow))
            )
        );
        ft = FineTuning(
            deployProxy(
                address(new FineTuning()),
                abi.encodeCall(
                    FineTuning.initialize,
                    (
                        deployer,
                        IERC20(address(token)),
                        IAlgorithmMarketplace(address(market)),
                        INodeStaking(address(staking)),
                        IDeviceRegistry(address(registry)),
                        cfg.fineTuning
                    )
                )
            )
        );
    }

    /// @dev script/deploy-steps/attestation.ts: slashers, modules, publisher.
    function _wireAttestation() private {
        staking.setSlasher(address(ra), true);
        staking.setSlasher(address(ft), true);
        jm.setModule(jm.ATTESTATION_MODULE(), address(ra));
        jm.setModule(jm.SETTLEMENT_MODULE(), address(settlement));
        market.setPublisher(address(ft), true);
    }

    /// @dev Genesis allocations + the real timelock delay, executed by the timelock itself.
    function _genesis() private {
        (address[] memory targets, uint256[] memory values, bytes[] memory calldatas) = _genesisBatch();
        timelock.scheduleBatch(targets, values, calldatas, bytes32(0), keccak256("dml.genesis"), 0);
        timelock.executeBatch(targets, values, calldatas, bytes32(0), keccak256("dml.genesis"));
    }

    function _grantGovernorRoles() private {
        timelock.grantRole(timelock.PROPOSER_ROLE(), address(governor));
        timelock.grantRole(timelock.CANCELLER_ROLE(), address(governor));
    }

    /// @dev Every proxy (PROXY_CONTRACTS and ATTESTATION_PROXIES of the script) is governed by the timelock.
    function _transferGovernance() private {
        address[9] memory proxies = _proxies();
        for (uint256 i = 0; i < proxies.length; ++i) {
            IGovernedUUPS(proxies[i]).transferGovernance(address(timelock));
        }
    }

    function _renounce() private {
        timelock.revokeRole(timelock.PROPOSER_ROLE(), deployer);
        timelock.revokeRole(timelock.CANCELLER_ROLE(), deployer);
        timelock.renounceRole(timelock.DEFAULT_ADMIN_ROLE(), deployer);
    }

    /// @dev The nine protocol proxies in the script's order.
    function _proxies() internal view returns (address[9] memory) {
        return
            [
                address(staking),
                address(pool),
                address(registry),
                address(market),
                address(channels),
                address(jm),
                address(ra),
                address(settlement),
                address(ft)
            ];
    }

    function _label() private {
        vm.label(address(timelock), "timelock");
        vm.label(address(token), "DMLToken");
        vm.label(address(governor), "DMLGovernor");
        vm.label(address(coordinator), "VRFCoordinator");
        vm.label(address(staking), "NodeStaking");
        vm.label(address(registry), "DeviceRegistry");
        vm.label(address(pool), "GrowthPool");
        vm.label(address(market), "AlgorithmMarketplace");
        vm.label(address(channels), "PaymentChannels");
        vm.label(address(jm), "JobMarket");
        vm.label(address(ra), "ResultAttestation");
        vm.label(address(settlement), "Settlement");
        vm.label(address(ft), "FineTuning");
    }

    function _genesisBatch()
        internal
        view
        returns (address[] memory targets, uint256[] memory values, bytes[] memory calldatas)
    {
        uint256 n = cfg.genesisTo.length;
        targets = new address[](n + 1);
        values = new uint256[](n + 1);
        calldatas = new bytes[](n + 1);
        for (uint256 i = 0; i < n; ++i) {
            targets[i] = address(token);
            // allocate: the recipient votes from day one (PROTOCOL.md §7.8), as script/deploy.ts does
            calldatas[i] = abi.encodeCall(DMLToken.allocate, (cfg.genesisTo[i], cfg.genesisAmounts[i]));
        }
        targets[n] = address(timelock);
        calldatas[n] = abi.encodeCall(TimelockController.updateDelay, (cfg.timelockDelay));
    }

    // ================================================================ helpers: funding, nodes, devices

    /// @dev Sends `amount` tokens from the genesis faucet to `to`.
    function _fund(address to, uint256 amount) internal {
        vm.prank(faucet);
        token.transfer(to, amount);
    }

    /// @dev Registers `operator` as a node if needed (endpoint and key derived from its address).
    function _registerNode(address operator) internal {
        if (staking.isRegistered(operator)) return;
        vm.prank(operator);
        staking.register(
            "https://node.dml.example",
            keccak256(abi.encode("x25519", operator)),
            "ipfs://meta"
        );
    }

    /// @dev Registers `operator` if needed, funds it from the faucet and stakes `amount` in `role`.
    function _stakeAs(address operator, INodeStaking.Role role, uint256 amount) internal {
        _registerNode(operator);
        _fund(operator, amount);
        vm.startPrank(operator);
        token.approve(address(staking), amount);
        staking.stake(role, amount);
        vm.stopPrank();
    }

    /// @dev Registers device `key` serving `schema` with any-algorithm consent and no price floor, and sets its
    ///      session key (`_sessionKeyOf(key)`); funds and approves its bond from the faucet first.
    function _registerDevice(address key, bytes32 schema) internal {
        bytes32[] memory schemas = new bytes32[](1);
        schemas[0] = schema;
        uint256 bond = registry.deviceBond();
        _fund(key, bond);
        vm.startPrank(key);
        token.approve(address(registry), bond);
        registry.register(schemas, IDeviceRegistry.Consent(true, new uint256[](0), 0));
        registry.setSessionKey(_sessionKeyOf(key));
        vm.stopPrank();
    }

    /// @dev A deterministic, nonzero stand-in session key for device `key` (Solidity tests never verify Ed25519).
    function _sessionKeyOf(address key) internal pure returns (bytes32) {
        return keccak256(abi.encode("session key", key));
    }

    /// @dev Funds `who` from the faucet and approves `spender` for everything it holds.
    function _fundAndApprove(address who, uint256 amount, address spender) internal {
        _fund(who, amount);
        vm.prank(who);
        token.approve(spender, type(uint256).max);
    }

    // ================================================================ helpers: algorithms and jobs

    /// @dev `dev` lists an algorithm for `SCHEMA` at `USE_PRICE` (licence `LICENCE_PRICE`).
    function _listAlgorithm(address dev) internal returns (uint256 algorithmId) {
        vm.prank(dev);
        algorithmId = market.list(PKG, MODEL, SCHEMA, USE_PRICE, LICENCE_PRICE, 0, "");
    }

    function _defaultDurations() internal pure returns (IJobMarket.PhaseDurations memory) {
        return
            IJobMarket.PhaseDurations({
                bidding: 7 days,
                assignment: 1 hours,
                commit: 2 hours,
                attestation: 1 hours,
                report: 1 hours,
                settlement: 1 hours
            });
    }

    /// @dev The default job spec for `algorithmId` (10..MAX_DEVICES devices at REWARD each).
    function _jobSpec(uint256 algorithmId) internal pure returns (IJobMarket.JobSpec memory s) {
        s.algorithmId = algorithmId;
        s.schema = SCHEMA;
        s.minDevices = 10;
        s.maxDevices = MAX_DEVICES;
        s.rewardPerDevice = REWARD;
        s.minParticipants = 8;
        s.maxStdError = 0.05e18;
        s.encryptionKey = abi.encodePacked(bytes1(0x02), keccak256("customer-key"));
        s.durations = _defaultDurations();
        s.maxUsePrice = uint96(USE_PRICE);
    }

    /// @dev `who` creates a job with spec `s`, after moving to a fresh epoch if this one's commit window closed.
    function _createJob(address who, IJobMarket.JobSpec memory s) internal returns (uint256 jobId) {
        (, uint256 cEnd, , uint256 eEnd) = jm.epochWindows(jm.currentEpoch());
        if (block.timestamp >= cEnd) vm.warp(eEnd);
        vm.prank(who);
        jobId = jm.createJob(s);
    }

    /// @dev create → commit a 2-DML bid → reveal → finalize the epoch, for `who` with spec `s`, without mining
    ///      past the seed block. Returns the Scheduled job and its epoch (seed armed on `block.number + 1`).
    function _scheduleUnseeded(
        address who,
        IJobMarket.JobSpec memory s
    ) internal returns (uint256 jobId, uint256 epoch) {
        jobId = _createJob(who, s);
        epoch = jm.currentEpoch();
        bytes32 salt = keccak256(abi.encode("bid", jobId));
        vm.prank(who);
        jm.commitBid(jobId, keccak256(abi.encode(jobId, uint256(2 ether), salt, who)), 2 ether);
        (, uint256 commitEnd, uint256 revealEnd, ) = jm.epochWindows(epoch);
        vm.warp(commitEnd);
        jm.revealBid(jobId, 2 ether, salt);
        vm.warp(revealEnd);
        jm.finalizeEpoch(epoch);
    }

    /// @dev A Scheduled job whose epoch seed can be fixed: the seed is the hash of the block after finalisation
    ///      (PROTOCOL.md §7.1), so this mines past it.
    function _scheduleJob(address who, IJobMarket.JobSpec memory s) internal returns (uint256 jobId) {
        (jobId, ) = _scheduleUnseeded(who, s);
        vm.roll(block.number + 2);
    }

    /// @dev `by` (the distributor) assigns `jobId`'s cohort through ResultAttestation, which draws the attestors,
    ///      from the latest connected set `_postConnectedSet` made stand. The only place tests call `assignCohort`
    ///      (see `Cohorts`).
    function _assignCohort(
        address by,
        uint256 jobId,
        bytes32 cohortRoot,
        uint32 deviceCount,
        string memory cohortCid,
        address agg
    ) internal {
        _assignCohort(by, jobId, cohortRoot, deviceCount, cohortCid, agg, standingEpoch);
    }

    /// @dev As above, drawn from the connected set of growth epoch `connectedEpoch`.
    function _assignCohort(
        address by,
        uint256 jobId,
        bytes32 cohortRoot,
        uint32 deviceCount,
        string memory cohortCid,
        address agg,
        uint256 connectedEpoch
    ) internal {
        vm.prank(by);
        Cohorts.assign(
            IResultAttestation(address(ra)),
            jobId,
            cohortRoot,
            deviceCount,
            cohortCid,
            agg,
            connectedEpoch
        );
    }

    /// @dev `by` (an active distributor) posts growth epoch `epoch`'s connected set (root over `n` devices) once
    ///      the epoch is over; the post stands once its challenge window passed (this warps past it), and jobs
    ///      scheduled from then on draw their cohorts from it (PROTOCOL.md §7.3).
    function _postConnectedSet(address by, uint256 epoch, bytes32 root, uint256 n) internal {
        uint256 end = pool.epochEnd(epoch);
        if (block.timestamp < end) vm.warp(end);
        vm.prank(by);
        pool.postEpoch(epoch, root, n, "bafy-connected-set");
        (, , uint256 finalAt) = pool.connectedSet(epoch);
        vm.warp(finalAt + 1);
        standingEpoch = epoch;
    }

    // ================================================================ helpers: bounds (Morpho Blue BaseTest style)

    /// @dev A fuzzed stake for `role`: at least its configured minimum, at most what the faucet can spare.
    function _boundStake(INodeStaking.Role role, uint256 amount) internal view returns (uint256) {
        return bound(amount, cfg.minStakes[uint8(role)], 1_000_000 ether);
    }

    /// @dev A fuzzed cohort size ResultAttestation and the default job spec accept.
    function _boundDeviceCount(uint256 count) internal view returns (uint32) {
        return uint32(bound(count, cfg.attestation.kMin, MAX_DEVICES));
    }

    /// @dev A fuzzed basis-point value.
    function _boundBps(uint256 bps) internal pure returns (uint16) {
        return uint16(bound(bps, 0, BPS));
    }

    /// @dev A fuzzed actor that is none of the protocol's contracts nor the zero address.
    function _boundActor(address a) internal view returns (address) {
        a = boundAddr(a);
        address[9] memory proxies = _proxies();
        for (uint256 i = 0; i < proxies.length; ++i) if (a == proxies[i]) return address(uint160(a) + 1);
        if (a == address(token) || a == address(timelock) || a == address(governor))
            return address(uint160(a) + 1);
        return a;
    }

    // ================================================================ helpers: governance

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
        vm.warp(block.timestamp + cfg.timelockDelay + 1);
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
        vm.warp(block.timestamp + cfg.votingDelay + 1);
        vm.prank(alice);
        governor.castVote(proposalId, 1);
        vm.prank(bob);
        governor.castVote(proposalId, 1);
        vm.warp(block.timestamp + cfg.votingPeriod + 1);
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
