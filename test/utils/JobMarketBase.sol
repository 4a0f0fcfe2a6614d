// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ProtocolFixture} from "./ProtocolFixture.sol";
import {IJobMarket} from "../../contracts/interfaces/IJobMarket.sol";
import {INodeStaking} from "../../contracts/interfaces/INodeStaking.sol";

/// @notice Stands in for the attestation module: records the JobMarket's terminal hook (`onJobClosed`).
contract JobHookRecorder {
    mapping(uint256 jobId => uint256) public closedCount;

    function onJobClosed(uint256 jobId, address) external {
        ++closedCount[jobId];
    }
}

/// @notice JobMarket unit-test domain layer over the shared ProtocolFixture (the whole protocol deployed and wired
///         as script/deploy.ts does). The JobMarket is tested through its module interface, so after deployment
///         governance points its attestation module at a `JobHookRecorder` and its settlement module at a plain
///         address that the tests prank. Parameters (`_deployConfig`): 10,000 DML minimum stakes, a 5% marketplace
///         fee to `marketTreasury`, a capacity-2 job market whose treasury is `treasury`. A developer lists the
///         algorithm, a distributor and an aggregator stake, alice, bob, carol and dave are funded customers.
abstract contract JobMarketBase is ProtocolFixture {
    uint16 internal constant MARKET_FEE_BPS = 500;
    uint256 internal constant MIN_STAKE = 10_000 ether;

    address internal treasury = makeAddr("treasury");
    address internal marketTreasury = makeAddr("marketTreasury");
    /// @dev The attestation module: a `JobHookRecorder` (the JobMarket calls its terminal hook).
    address internal attestation;
    /// @dev The settlement module: an address the tests prank.
    address internal settlementModule = makeAddr("settlementModule");

    uint256 internal algorithmId;
    address[] internal customers;

    function setUp() public virtual override {
        super.setUp();
        attestation = address(new JobHookRecorder());
        vm.label(attestation, "attestationModule");
        algorithmId = _listAlgorithm(developer);
        stakeAs(distributor, INodeStaking.Role.Distributor);
        stakeAs(aggregator, INodeStaking.Role.Aggregator);
        vm.startPrank(governance);
        jm.setModule(jm.ATTESTATION_MODULE(), attestation);
        jm.setModule(jm.SETTLEMENT_MODULE(), settlementModule);
        vm.stopPrank();

        customers.push(alice);
        customers.push(bob);
        customers.push(carol);
        customers.push(dave);
        for (uint256 i = 0; i < customers.length; ++i) {
            _fundAndApprove(customers[i], 10_000_000 ether, address(jm));
        }
    }

    /// @dev The JobMarket suites' parameters on top of the default deployment.
    function _deployConfig() internal view virtual override returns (Config memory c) {
        c = super._deployConfig();
        // as these suites were written: the customers hold only what setUp gives them and the faucet holds nearly
        // the whole treasury (fuzzed bids reach 800M DML)
        _faucetOnlyGenesis(c);
        c.treasury = treasury;
        c.marketTreasury = marketTreasury;
        c.minStakes = [MIN_STAKE, MIN_STAKE, MIN_STAKE, MIN_STAKE, MIN_STAKE];
        c.unbondingDelay = 7 days;
        c.challengerShareBps = 1_000;
        c.burnSlashed = true;
        c.marketFeeBps = MARKET_FEE_BPS;
        c.parentShareBps = 2_000;
        c.jobMarket = defaultParams();
    }

    function stakeAs(address operator, INodeStaking.Role role) internal {
        _stakeAs(operator, role, MIN_STAKE);
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
        p = _defaultJobParams();
        p.capacity = 2;
    }

    function defaultDurations() internal pure returns (IJobMarket.PhaseDurations memory) {
        return _defaultDurations();
    }

    function encKey() internal pure returns (bytes memory) {
        return abi.encodePacked(bytes1(0x02), keccak256("customer-key"));
    }

    function defaultSpec() internal view returns (IJobMarket.JobSpec memory) {
        return _jobSpec(algorithmId);
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

    /// @dev Creates a job for `customer`, wins this epoch's auction alone (price = reserve) and returns it Scheduled
    ///      (the fixture's create → commit → reveal → finalize, then past the seed block).
    function scheduledJob(address customer) internal returns (uint256 jobId) {
        jobId = _scheduleJob(customer, defaultSpec());
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
