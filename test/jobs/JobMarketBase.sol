// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {BaseTest} from "../utils/BaseTest.sol";
import {DMLToken} from "../../contracts/DMLToken.sol";
import {JobMarket} from "../../contracts/JobMarket.sol";
import {IJobMarket} from "../../contracts/interfaces/IJobMarket.sol";
import {INodeStaking} from "../../contracts/interfaces/INodeStaking.sol";
import {IAlgorithmMarketplace} from "../../contracts/interfaces/IAlgorithmMarketplace.sol";
import {IDeviceRegistry} from "../../contracts/interfaces/IDeviceRegistry.sol";
import {AlgorithmMarketplace} from "../../contracts/AlgorithmMarketplace.sol";
import {NodeStaking} from "../../contracts/NodeStaking.sol";
import {DeviceRegistry} from "../../contracts/DeviceRegistry.sol";

/// @notice Stands in for the attestation module: records the JobMarket's terminal hook (`onJobClosed`).
contract JobHookRecorder {
    mapping(uint256 jobId => uint256) public closedCount;

    function onJobClosed(uint256 jobId, address) external {
        ++closedCount[jobId];
    }
}

/// @notice Deploys DMLToken and the real AlgorithmMarketplace, NodeStaking, DeviceRegistry and JobMarket behind
///         ERC1967 proxies; a developer lists the algorithm, a distributor and an aggregator stake.
abstract contract JobMarketBase is BaseTest {
    bytes32 internal constant SCHEMA = keccak256("email/rfc822-v1");
    uint256 internal constant USE_PRICE = 5 ether;
    uint96 internal constant REWARD = 2 ether;
    uint32 internal constant MAX_DEVICES = 50;

    address internal governance = makeAddr("governance");
    address internal treasury = makeAddr("treasury");
    address internal growthPool = makeAddr("growthPool");
    address internal developer = makeAddr("developer");
    address internal distributor = makeAddr("distributor");
    address internal aggregator = makeAddr("aggregator");
    /// @dev The attestation module: a `JobHookRecorder` (the JobMarket calls its terminal hook).
    address internal attestation;
    address internal settlement = makeAddr("settlementModule");
    address internal marketTreasury = makeAddr("marketTreasury");
    uint16 internal constant MARKET_FEE_BPS = 500;
    uint256 internal constant MIN_STAKE = 10_000 ether;
    uint256 internal constant DEVICE_BOND = 10 ether;

    DMLToken internal token;
    JobMarket internal jm;
    AlgorithmMarketplace internal market;
    NodeStaking internal staking;
    DeviceRegistry internal registry;
    uint256 internal algorithmId;
    address[] internal customers;

    function setUp() public virtual {
        attestation = address(new JobHookRecorder());
        vm.label(attestation, "attestationModule");
        token = new DMLToken(deployer, growthPool);
        market = AlgorithmMarketplace(
            deployProxy(
                address(new AlgorithmMarketplace()),
                abi.encodeCall(
                    AlgorithmMarketplace.initialize,
                    (governance, IERC20(address(token)), marketTreasury, MARKET_FEE_BPS, 2_000)
                )
            )
        );
        uint256[5] memory minStakes = [MIN_STAKE, MIN_STAKE, MIN_STAKE, MIN_STAKE, MIN_STAKE];
        staking = NodeStaking(
            deployProxy(
                address(new NodeStaking()),
                abi.encodeCall(
                    NodeStaking.initialize,
                    (governance, IERC20(address(token)), treasury, minStakes, 7 days, 1_000, true)
                )
            )
        );
        registry = DeviceRegistry(
            deployProxy(
                address(new DeviceRegistry()),
                abi.encodeCall(DeviceRegistry.initialize, (governance, IERC20(address(token)), DEVICE_BOND))
            )
        );
        JobMarket impl = new JobMarket();
        jm = JobMarket(
            deployProxy(
                address(impl),
                abi.encodeCall(
                    JobMarket.initialize,
                    (
                        governance,
                        IERC20(address(token)),
                        IAlgorithmMarketplace(address(market)),
                        INodeStaking(address(staking)),
                        IDeviceRegistry(address(registry)),
                        treasury,
                        defaultParams()
                    )
                )
            )
        );
        vm.prank(developer);
        algorithmId = market.list("bafy-package", keccak256("model"), SCHEMA, USE_PRICE, 100 ether, 0, "");
        stakeAs(distributor, INodeStaking.Role.Distributor);
        stakeAs(aggregator, INodeStaking.Role.Aggregator);
        vm.startPrank(governance);
        jm.setModule(jm.ATTESTATION_MODULE(), attestation);
        jm.setModule(jm.SETTLEMENT_MODULE(), settlement);
        vm.stopPrank();

        customers.push(alice);
        customers.push(bob);
        customers.push(carol);
        customers.push(dave);
        for (uint256 i = 0; i < customers.length; ++i) {
            vm.prank(deployer);
            token.transfer(customers[i], 10_000_000 ether);
            vm.prank(customers[i]);
            token.approve(address(jm), type(uint256).max);
        }
    }

    function stakeAs(address operator, INodeStaking.Role role) internal {
        vm.prank(deployer);
        token.transfer(operator, MIN_STAKE);
        vm.startPrank(operator);
        if (!staking.isRegistered(operator)) {
            staking.register("https://node.example", keccak256(abi.encode(operator)), "");
        }
        token.approve(address(staking), MIN_STAKE);
        staking.stake(role, MIN_STAKE);
        vm.stopPrank();
    }

    /// @dev `customer` buys a perpetual licence for the algorithm.
    function buyLicence(address customer) internal {
        vm.startPrank(customer);
        token.approve(address(market), 100 ether);
        market.buyLicence(algorithmId, 100 ether);
        vm.stopPrank();
    }

    /// @dev Developer's share of a use payment after the marketplace's protocol fee.
    function developerShare(uint256 amount) internal pure returns (uint256) {
        return amount - (amount * MARKET_FEE_BPS) / BPS;
    }

    function defaultParams() internal pure returns (IJobMarket.Params memory p) {
        p.epochLength = 1 hours;
        p.commitWindow = 30 minutes;
        p.revealWindow = 20 minutes;
        p.capacity = 2;
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

    function defaultDurations() internal pure returns (IJobMarket.PhaseDurations memory) {
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

    function encKey() internal pure returns (bytes memory) {
        return abi.encodePacked(bytes1(0x02), keccak256("customer-key"));
    }

    function defaultSpec() internal view returns (IJobMarket.JobSpec memory s) {
        s.algorithmId = algorithmId;
        s.schema = SCHEMA;
        s.minDevices = 10;
        s.maxDevices = MAX_DEVICES;
        s.rewardPerDevice = REWARD;
        s.minParticipants = 8;
        s.maxStdError = 0.05e18;
        s.encryptionKey = encKey();
        s.durations = defaultDurations();
        s.maxUsePrice = uint96(USE_PRICE);
    }

    /// @dev Budget with the default fees: d + 17.5% of d.
    function defaultBudget() internal pure returns (uint256) {
        uint256 d = uint256(MAX_DEVICES) * REWARD;
        return d + (d * 1_750) / BPS;
    }

    function createJobAs(address customer) internal returns (uint256 jobId) {
        IJobMarket.JobSpec memory s = defaultSpec();
        vm.prank(customer);
        jobId = jm.createJob(s);
    }

    function commitment(
        uint256 jobId,
        uint256 bid,
        bytes32 salt,
        address bidder
    ) internal pure returns (bytes32) {
        return keccak256(abi.encode(jobId, bid, salt, bidder));
    }

    function saltOf(uint256 jobId) internal pure returns (bytes32) {
        return keccak256(abi.encode("salt", jobId));
    }

    function commitAs(address customer, uint256 jobId, uint256 bid, uint256 deposit) internal {
        bytes32 c = commitment(jobId, bid, saltOf(jobId), customer);
        vm.prank(customer);
        jm.commitBid(jobId, c, deposit);
    }

    function reveal(uint256 jobId, uint256 bid) internal {
        jm.revealBid(jobId, bid, saltOf(jobId));
    }

    function warpToReveal() internal {
        (, uint256 commitEnd, , ) = jm.epochWindows(jm.currentEpoch());
        vm.warp(commitEnd);
    }

    function warpToRevealEnd() internal {
        (, , uint256 revealEnd, ) = jm.epochWindows(jm.currentEpoch());
        vm.warp(revealEnd);
    }

    function warpToNextEpoch() internal {
        (, , , uint256 end) = jm.epochWindows(jm.currentEpoch());
        vm.warp(end);
    }

    /// @dev Creates a job for `customer`, wins this epoch's auction alone (price = reserve) and returns it Scheduled.
    function scheduledJob(address customer) internal returns (uint256 jobId) {
        jobId = createJobAs(customer);
        uint256 epoch = jm.currentEpoch();
        commitAs(customer, jobId, 2 ether, 2 ether);
        warpToReveal();
        reveal(jobId, 2 ether);
        warpToRevealEnd();
        jm.finalizeEpoch(epoch);
        nextBlocks();
    }

    /// @dev Mines past the block whose hash seeds the epoch just finalised (PROTOCOL.md §7.1), so the first
    ///      assignment can fix it.
    function nextBlocks() internal {
        vm.roll(block.number + 2);
    }

    /// @dev The attestation module records `distributor`'s cohort (ResultAttestation checks the nodes).
    function assign(uint256 jobId, uint32 count) internal returns (bytes32 seed) {
        vm.prank(attestation);
        seed = jm.markAssigned(jobId, keccak256("root"), count, "bafy-cohort", distributor, aggregator);
    }

    /// @dev Times the JobMarket told the attestation module that `jobId` is terminal.
    function closedCount(uint256 jobId) internal view returns (uint256) {
        return JobHookRecorder(attestation).closedCount(jobId);
    }

    function assignedJob(address customer) internal returns (uint256 jobId) {
        jobId = scheduledJob(customer);
        assign(jobId, 20);
    }

    function committedJob(address customer) internal returns (uint256 jobId) {
        jobId = assignedJob(customer);
        vm.prank(attestation);
        jm.markCommitted(jobId);
    }

    function attestedJob(address customer) internal returns (uint256 jobId) {
        jobId = committedJob(customer);
        vm.prank(attestation);
        jm.markAttested(jobId);
    }

    /// @dev The clearing price a Scheduled (or later) job paid: that of the epoch it was scheduled in.
    function pricePaidOf(uint256 jobId) internal view returns (uint256) {
        return jm.epochInfo(jm.getJob(jobId).scheduledEpoch).clearingPrice;
    }
}
