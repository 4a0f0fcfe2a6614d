// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ProtocolFixture} from "./ProtocolFixture.sol";
import {IJobMarket} from "../../contracts/interfaces/IJobMarket.sol";
import {INodeStaking} from "../../contracts/interfaces/INodeStaking.sol";
import {IResultAttestation} from "../../contracts/interfaces/IResultAttestation.sol";
import {ISettlement} from "../../contracts/interfaces/ISettlement.sol";
import {IFineTuning} from "../../contracts/interfaces/IFineTuning.sol";
import {MerkleHelper} from "./MerkleHelper.sol";

/// @notice Job-lifecycle domain layer (attestation, settlement, fine-tuning, exploits, lifecycle invariants) over
///         the shared ProtocolFixture, which deploys and wires the whole protocol as script/deploy.ts does. This
///         layer only sets the parameters its suites' assertions were written for (`_deployConfig`: 1,000 DML
///         minimum stakes, slashes to the treasury, 5% marketplace fee, a capacity-2 job market, quorum 3), lists
///         the algorithm, stakes one node per role and five attestors, funds the customer, and adds lifecycle
///         helpers.
abstract contract LifecycleFixture is ProtocolFixture {
    string internal constant TRANSCRIPT = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
    string internal constant REPORT = "bafkreie5nuy3b5kzkz5ouyy4v7y2yhqj5qfq2h2zjt7hslzmq3zyqmfgmi";
    string internal constant PAYOUTS = "bafkreiapayoutlistpayoutlistpayoutlistpayoutlistpayoutlist";
    uint256 internal constant MIN_STAKE = 1_000 ether;
    uint96 internal constant SLASH = 100 ether;
    uint8 internal constant Q = 3;
    uint256 internal constant N_ATTESTORS = 5;
    /// @dev Smallest cohort ResultAttestation accepts (below every job's `minDevices` here).
    uint32 internal constant K_MIN = 5;
    /// @dev The growth-pool epoch whose (standing) connected set the suites' cohorts are drawn from, and its size.
    uint256 internal constant CONNECTED_EPOCH = 0;
    uint256 internal constant CONNECTED_N = 1_000;
    /// @dev The aggregate hash of the attested results the suites report.
    bytes32 internal constant AGG_HASH = keccak256("aggregate");

    /// @dev The protocol treasury (the timelock) that receives fees, slashes and penalties.
    address internal treasury;
    address[] internal attestorSet;
    uint256 internal algorithmId;

    function setUp() public virtual override {
        super.setUp();
        treasury = address(timelock);
        algorithmId = _listAlgorithm(developer);
        _operator(distributor, INodeStaking.Role.Distributor);
        _operator(aggregator, INodeStaking.Role.Aggregator);
        _operator(reporter, INodeStaking.Role.Reporter);
        _operator(refiner, INodeStaking.Role.Refiner);
        for (uint256 i = 0; i < N_ATTESTORS; ++i) {
            address a = makeAddr(string.concat("attestor", vm.toString(i)));
            attestorSet.push(a);
            _operator(a, INodeStaking.Role.Attestor);
        }
        _fundAndApprove(customer, 10_000_000 ether, address(jm));
        // Cohorts come from the latest standing connected set (a placeholder root: these suites do not prove
        // membership; test/exploits/H4_chosen_cohort.t.sol posts a real one).
        _postConnectedSet(distributor, CONNECTED_EPOCH, keccak256("connected set"), CONNECTED_N);
    }

    /// @dev `epoch`'s connected set posted by the distributor; it stands when this returns.
    function postStandingConnectedSet(uint256 epoch, bytes32 root, uint256 n) internal {
        _postConnectedSet(distributor, epoch, root, n);
    }

    /// @dev The lifecycle suites' parameters on top of the default deployment.
    function _deployConfig() internal view virtual override returns (Config memory c) {
        c = super._deployConfig();
        c.minStakes = [MIN_STAKE, MIN_STAKE, MIN_STAKE, MIN_STAKE, MIN_STAKE];
        c.unbondingDelay = 7 days;
        c.challengerShareBps = 1_000;
        c.burnSlashed = false;
        c.deviceBond = 10 ether;
        c.marketFeeBps = 500;
        c.parentShareBps = 2_000;
        c.jobMarket = jobParams();
        c.attestation = raParams();
        c.settlementClaimWindow = 30 days;
        c.fineTuning = IFineTuning.Params({
            quorum: Q,
            commitWindow: 1 hours,
            revealWindow: 1 hours,
            slashAmount: SLASH,
            claimWindow: 30 days,
            attestorShareBps: 1_000
        });
    }

    // ------------------------------------------------------------------------------------------------ params

    function jobParams() internal pure returns (IJobMarket.Params memory p) {
        p = _defaultJobParams();
        p.capacity = 2;
    }

    function raParams() internal pure returns (IResultAttestation.Params memory) {
        return
            IResultAttestation.Params({
                quorum: Q,
                commitWindowBps: 4_000,
                revealWindowBps: 4_000,
                slashAmount: SLASH,
                kMin: K_MIN
            });
    }

    function durations() internal pure returns (IJobMarket.PhaseDurations memory) {
        return _defaultDurations();
    }

    function spec() internal view returns (IJobMarket.JobSpec memory) {
        return _jobSpec(algorithmId);
    }

    // ------------------------------------------------------------------------------------------------ actors

    function fund(address to, uint256 amount) internal {
        _fund(to, amount);
    }

    /// @dev Stakes `MIN_STAKE` in `role` for `op` and leaves it `MIN_STAKE` liquid, approved to the staking.
    function _operator(address op, INodeStaking.Role role) internal {
        _fund(op, MIN_STAKE);
        _stakeAs(op, role, MIN_STAKE);
        vm.prank(op);
        token.approve(address(staking), type(uint256).max);
    }

    function registerDevice(address device) internal {
        _registerDevice(device, SCHEMA);
    }

    // ------------------------------------------------------------------------------------------------ job flow

    /// @dev create → commit bid → reveal → finalize epoch: returns a Scheduled job of `customer`.
    function scheduledJob() internal returns (uint256 jobId) {
        jobId = _scheduleJob(customer, spec());
    }

    /// @dev The distributor assigns the cohort through ResultAttestation, which draws the attestors.
    function assignedJob(uint32 deviceCount) internal returns (uint256 jobId) {
        jobId = scheduledJob();
        _assignCohort(distributor, jobId, keccak256("cohort"), deviceCount, "bafy-cohort", aggregator);
    }

    function aggSalt(uint256 jobId) internal pure returns (bytes32) {
        return keccak256(abi.encode("agg-salt", jobId));
    }

    function attSalt(uint256 jobId, address a) internal pure returns (bytes32) {
        return keccak256(abi.encode("att-salt", jobId, a));
    }

    function commitAggregate(uint256 jobId, bytes32 value) internal {
        vm.prank(aggregator);
        ra.commitAggregate(jobId, keccak256(abi.encode(value, aggSalt(jobId))), TRANSCRIPT);
    }

    /// @dev Nothing is locked any more for the job's nodes (the only job these tests run at that point).
    function assertNoLocks(uint256 jobId) internal view {
        assertEq(staking.lockedOf(distributor, INodeStaking.Role.Distributor), 0, "distributor lock");
        assertEq(staking.lockedOf(aggregator, INodeStaking.Role.Aggregator), 0, "aggregator lock");
        address[] memory atts = attestorsOf(jobId);
        for (uint256 i = 0; i < atts.length; ++i) {
            assertEq(staking.lockedOf(atts[i], INodeStaking.Role.Attestor), 0, "attestor lock");
        }
    }

    function attestorsOf(uint256 jobId) internal view returns (address[] memory) {
        return ra.attestationOf(jobId).attestors;
    }

    function commitAtt(uint256 jobId, address a, bytes32 value) internal {
        vm.prank(a);
        ra.commitAttestation(jobId, keccak256(abi.encode(value, attSalt(jobId, a), a)));
    }

    function revealAtt(uint256 jobId, address a, bytes32 value) internal {
        vm.prank(a);
        ra.revealAttestation(jobId, value, attSalt(jobId, a));
    }

    function revealAgg(uint256 jobId, bytes32 value) internal {
        vm.prank(aggregator);
        ra.revealAggregate(jobId, value, aggSalt(jobId));
    }

    /// @dev Commits the aggregate, has attestor i commit and reveal `votes[i]` (zero = silent) and the aggregator
    ///      reveal `value`. A unanimous quorum is finalised by the aggregator's reveal (the last one); otherwise
    ///      the keeper finalizes (after the reveal deadline when someone is silent).
    function attestWith(uint256 jobId, bytes32 value, bytes32[] memory votes) internal {
        commitAggregate(jobId, value);
        address[] memory atts = attestorsOf(jobId);
        for (uint256 i = 0; i < atts.length; ++i)
            if (votes[i] != bytes32(0)) commitAtt(jobId, atts[i], votes[i]);
        IResultAttestation.Attestation memory a = ra.attestationOf(jobId);
        vm.warp(a.commitDeadline + 1);
        for (uint256 i = 0; i < atts.length; ++i)
            if (votes[i] != bytes32(0)) revealAtt(jobId, atts[i], votes[i]);
        revealAgg(jobId, value);
        if (ra.statusOf(jobId) != IResultAttestation.Status.Committed) return; // unanimous: already final
        if (ra.attestationOf(jobId).revealedMask != (1 << atts.length) - 1) vm.warp(a.revealDeadline + 1);
        vm.prank(keeper);
        ra.finalize(jobId);
    }

    function honestVotes(bytes32 value) internal pure returns (bytes32[] memory v) {
        v = new bytes32[](Q);
        for (uint256 i = 0; i < Q; ++i) v[i] = value;
    }

    function attestedJob(uint32 deviceCount, bytes32 value) internal returns (uint256 jobId) {
        jobId = assignedJob(deviceCount);
        attestWith(jobId, value, honestVotes(value));
    }

    /// @dev `resultHash` of a report's result, computed here exactly as PROTOCOL.md §7.4 defines it.
    function resultHash(ISettlement.ReportInput memory input) internal pure returns (bytes32) {
        ISettlement.Result memory r = input.result;
        return
            keccak256(abi.encode(r.aggregateHash, r.payoutRoot, r.payoutTotal, r.participants, r.qualityMet));
    }

    /// @dev A job whose quorum attested exactly `input`'s result (so `input` may be reported).
    function attestedJobFor(
        uint32 deviceCount,
        ISettlement.ReportInput memory input
    ) internal returns (uint256) {
        return attestedJob(deviceCount, resultHash(input));
    }

    /// @dev Device `i` of the payout lists.
    function deviceAt(uint256 i) internal pure returns (address) {
        return address(uint160(uint256(keccak256(abi.encode("device", i)))));
    }

    /// @dev A job's payout list: leaf i = (i, devices[i], amounts[i]) in a StandardMerkleTree
    ///      ["uint256","address","uint256"], exactly as `buildPayoutTree` (sdk/chain/payouts.ts) builds it.
    struct Payouts {
        address[] devices;
        uint256[] amounts;
        bytes32[] tree;
        bytes32 root;
        uint256 total;
    }

    /// @dev The payout list of `n` devices each paid `amount`.
    function payouts(uint256 n, uint256 amount) internal pure returns (Payouts memory p) {
        p.devices = new address[](n);
        p.amounts = new uint256[](n);
        for (uint256 i = 0; i < n; ++i) {
            p.devices[i] = deviceAt(i);
            p.amounts[i] = amount;
        }
        p.tree = MerkleHelper.buildPayouts(p.devices, p.amounts);
        p.root = p.tree[0];
        p.total = n * amount;
    }

    /// @dev The proof of leaf `i` of `p`.
    function proofOf(Payouts memory p, uint256 i) internal pure returns (bytes32[] memory) {
        return MerkleHelper.payoutProof(p.tree, i, p.devices[i], p.amounts[i]);
    }

    /// @dev Anyone (here `keeper`, a relayer) claims leaf `i` of `p` for its device.
    function claimLeaf(uint256 jobId, Payouts memory p, uint256 i) internal {
        vm.prank(keeper);
        settlement.claim(jobId, i, p.devices[i], p.amounts[i], proofOf(p, i));
    }

    /// @dev The report input; the payout list CID is set exactly when a payout root is given.
    function reportInput(
        bytes32 root,
        uint96 total,
        uint32 participants,
        bool ok
    ) internal pure returns (ISettlement.ReportInput memory r) {
        r.reportCid = REPORT;
        r.reportCommitment = keccak256("encrypted-report");
        r.result = ISettlement.Result({
            aggregateHash: AGG_HASH,
            payoutRoot: root,
            payoutTotal: total,
            participants: participants,
            qualityMet: ok
        });
        if (root != bytes32(0)) r.payoutsCid = PAYOUTS;
    }

    function postReport(uint256 jobId, ISettlement.ReportInput memory input) internal {
        vm.prank(reporter);
        settlement.report(jobId, input);
    }

    /// @dev Fees credited to the ledger by one report (the protocol fee excluded): distributor, aggregator,
    ///      reporter, `agreeing` attestors and, on success, the developer royalty.
    function ledgerFees(uint256 agreeing, bool success) internal pure returns (uint256) {
        uint256 f = fee(200) + fee(300) + fee(200) + (fee(300) / agreeing) * agreeing;
        return success ? f + royaltyNet() : f;
    }

    /// @dev The marketplace's fee (500 bps) on the job royalty: the royalty is shared like marketplace revenue.
    function royaltyMarketFee() internal pure returns (uint256) {
        return (fee(500) * 500) / BPS;
    }

    /// @dev The developer's job royalty after the marketplace fee (an own version: no parent share).
    function royaltyNet() internal pure returns (uint256) {
        return fee(500) - royaltyMarketFee();
    }

    /// @dev The protocol fees a successful job credits: the job's protocol fee and the fee on its royalty.
    function protocolCut() internal pure returns (uint256) {
        return fee(250) + royaltyMarketFee();
    }

    function deviceBudget() internal pure returns (uint256) {
        return uint256(MAX_DEVICES) * REWARD;
    }

    function fee(uint256 bps) internal pure returns (uint256) {
        return (deviceBudget() * bps) / BPS;
    }
}
