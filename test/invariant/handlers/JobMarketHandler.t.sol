// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {DMLToken} from "../../../contracts/DMLToken.sol";
import {JobMarket} from "../../../contracts/JobMarket.sol";
import {IJobMarket} from "../../../contracts/interfaces/IJobMarket.sol";
import {JobMarketV2} from "../../mocks/JobMarketV2.sol";

/// @notice Drives JobMarket through every transition with bounded inputs from several customers, a distributor
///         and the two lifecycle modules; never reverts. Checks each auction against a reference selection and
///         each upgrade against a snapshot of all jobs, recording mismatches in ghost counters.
/// @dev A `.t.sol` file so Hardhat treats it as a root and emits the artifact the invariant fuzzer needs.
contract JobMarketHandler is Test {
    DMLToken public immutable token;
    JobMarket public immutable jm;
    address public immutable governance;
    address public immutable attestation;
    address public immutable settlement;
    address public immutable distributor;
    address public immutable aggregator;
    uint256 public immutable algorithmId;
    bytes32 public immutable schema;
    address[] public customers;

    uint256[] public jobIds;
    uint256[] public bidEpochs; // epochs that received commitments
    mapping(uint256 => bool) internal _epochSeen;
    mapping(uint256 => uint256) public bidOf; // job → committed bid (this epoch)
    mapping(uint256 => bytes32) public saltOf;

    // ghosts
    uint256 public auctionMismatches;
    uint256 public upgradeMismatches;
    uint256 public epochsFinalized;
    uint256 public jobsScheduled;
    uint256 public upgrades;
    uint256 public paidOut; // total the settlement module received through settle
    uint256 public jobsSettled;
    uint256 public settleMismatches;
    uint256 public evictionMismatches; // an eviction that broke the epoch's list, refunded wrongly or misjudged
    uint256 public evictions;
    mapping(bytes4 => uint256) public calls;

    constructor(
        DMLToken token_,
        JobMarket jm_,
        address governance_,
        address attestation_,
        address settlement_,
        address distributor_,
        address aggregator_,
        uint256 algorithmId_,
        bytes32 schema_,
        address[] memory customers_
    ) {
        token = token_;
        jm = jm_;
        governance = governance_;
        attestation = attestation_;
        settlement = settlement_;
        distributor = distributor_;
        aggregator = aggregator_;
        algorithmId = algorithmId_;
        schema = schema_;
        customers = customers_;
    }

    function jobCount() external view returns (uint256) {
        return jobIds.length;
    }

    function epochCount() external view returns (uint256) {
        return bidEpochs.length;
    }

    /// @dev Picks a job by seed; a seed that is itself a job id (as runJob passes) picks that job.
    function _job(uint256 seed) internal view returns (uint256 id, bool ok) {
        uint256 n = jobIds.length;
        if (n == 0) return (0, false);
        if (seed >= 1 && seed <= n) return (seed, true);
        return (jobIds[seed % n], true);
    }

    // ---------------------------------------------------------------- customer actions

    function createJob(uint256 actorSeed, uint32 maxDevices, uint96 reward) external {
        calls[this.createJob.selector]++;
        address customer = customers[actorSeed % customers.length];
        IJobMarket.JobSpec memory s;
        s.algorithmId = algorithmId;
        s.schema = schema;
        s.maxDevices = uint32(bound(maxDevices, 1, 100));
        s.minDevices = uint32(bound(uint256(maxDevices) >> 8, 1, s.maxDevices));
        s.minParticipants = 1;
        s.rewardPerDevice = uint96(bound(reward, 1, 10 ether));
        s.maxStdError = 0.1e18;
        s.encryptionKey = abi.encodePacked(bytes1(0x03), keccak256(abi.encode(customer)));
        s.durations = IJobMarket.PhaseDurations({
            bidding: uint32(bound(reward, 1 hours, 2 days)),
            assignment: 1 hours,
            commit: 2 hours,
            attestation: 1 hours,
            report: 1 hours,
            settlement: 1 hours
        });
        s.maxUsePrice = type(uint96).max;
        vm.prank(customer);
        jobIds.push(jm.createJob(s));
    }

    function commitBid(uint256 jobSeed, uint96 bid, uint96 extra, bool honest) external {
        (uint256 id, bool ok) = _job(jobSeed);
        if (!ok) return;
        if (_commit(id, bid, extra, honest)) calls[this.commitBid.selector]++;
    }

    function _commit(uint256 id, uint256 bid, uint256 extra, bool honest) internal returns (bool) {
        IJobMarket.Job memory j = jm.getJob(id);
        if (j.status != IJobMarket.JobStatus.Created || block.timestamp > j.deadline) return false;
        uint256 epoch = jm.currentEpoch();
        (, uint256 commitEnd, , ) = jm.epochWindows(epoch);
        if (block.timestamp >= commitEnd) return false;
        IJobMarket.Params memory p = jm.params();
        if (jm.epochInfo(epoch).bidCount >= p.maxBidsPerEpoch) return false;
        // few distinct bid levels so ties are frequent
        uint256 b = p.reservePrice + (bound(bid, 0, 5)) * 1 ether;
        uint256 deposit = b + bound(extra, 0, 2 ether);
        bytes32 salt = keccak256(abi.encode(id, epoch, bid));
        // a dishonest bidder commits a bid above its deposit (cannot be revealed)
        uint256 committed = honest ? b : deposit + 1;
        bidOf[id] = committed;
        saltOf[id] = salt;
        vm.prank(j.customer);
        jm.commitBid(id, keccak256(abi.encode(id, committed, salt, j.customer)), deposit);
        if (!_epochSeen[epoch]) {
            _epochSeen[epoch] = true;
            bidEpochs.push(epoch);
        }
        return true;
    }

    /// @dev One whole epoch: up to 6 jobs commit, most reveal (some never do), then the epoch is finalised and
    ///      checked against the reference selection.
    function auctionRound(uint256 seed) external {
        if (jobIds.length == 0) return;
        calls[this.auctionRound.selector]++;
        uint256 epoch = jm.currentEpoch();
        (, uint256 commitEnd, uint256 revealEnd, uint256 end) = jm.epochWindows(epoch);
        if (block.timestamp >= commitEnd) {
            vm.warp(end);
            epoch = jm.currentEpoch();
            (, commitEnd, revealEnd, ) = jm.epochWindows(epoch);
        }
        uint256[] memory committed = new uint256[](6);
        uint256 m;
        for (uint256 t = 0; t < 12 && m < 6; ++t) {
            uint256 r = uint256(keccak256(abi.encode(seed, t)));
            uint256 id = jobIds[r % jobIds.length];
            if (_commit(id, r >> 8, r >> 40, (r >> 80) % 7 != 0)) committed[m++] = id;
        }
        vm.warp(commitEnd);
        for (uint256 i = 0; i < m; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, "reveal", i)));
            if (r % 6 == 0) continue; // forgets to reveal
            _reveal(committed[i], customers[r % customers.length]);
        }
        vm.warp(revealEnd);
        if (!jm.epochInfo(epoch).finalized) _finalizeAndCheck(epoch);
    }

    function _reveal(uint256 id, address caller) internal returns (bool) {
        IJobMarket.Job memory j = jm.getJob(id);
        if (j.status != IJobMarket.JobStatus.Bidding || j.revealed) return false;
        if (jm.currentEpoch() != j.bidEpoch) return false;
        (, uint256 commitEnd, uint256 revealEnd, ) = jm.epochWindows(j.bidEpoch);
        if (block.timestamp < commitEnd || block.timestamp >= revealEnd) return false;
        uint256 b = bidOf[id];
        if (b > j.deposit || b < jm.params().reservePrice) return false;
        vm.prank(caller);
        jm.revealBid(id, b, saltOf[id]);
        return true;
    }

    function revealBid(uint256 jobSeed, uint256 callerSeed) external {
        (uint256 id, bool ok) = _job(jobSeed);
        if (!ok) return;
        if (_reveal(id, customers[callerSeed % customers.length])) calls[this.revealBid.selector]++;
    }

    function withdrawJob(uint256 jobSeed) external {
        (uint256 id, bool ok) = _job(jobSeed);
        if (!ok) return;
        IJobMarket.Job memory j = jm.getJob(id);
        if (j.status != IJobMarket.JobStatus.Created) return;
        calls[this.withdrawJob.selector]++;
        vm.prank(j.customer);
        jm.withdrawJob(id);
    }

    /// @dev One eviction attempt and what it saw before the call.
    struct Eviction {
        uint256 id;
        address customer;
        uint256 epoch;
        uint64[] list;
        uint256 pos;
        uint256 victim;
        uint256 prev;
        uint256 deposit;
        uint256 victimDeposit;
        address victimCustomer;
        uint256 victimBefore;
        bool valid;
    }

    /// @dev A Created job bids into the current epoch by evicting a commitment (M2): a valid pair
    ///      (victim, its predecessor), or a predecessor taken from any job (often a stale link of an earlier epoch,
    ///      or the tail). A valid eviction with a larger deposit must succeed and replace the victim in place,
    ///      refunding it; anything else must revert `JobMarketInvalidEviction` and change nothing.
    function evictBid(
        uint256 jobSeed,
        uint256 victimSeed,
        uint256 prevSeed,
        uint96 extra,
        bool validPrev
    ) external {
        (uint256 id, bool ok) = _job(jobSeed);
        if (!ok) return;
        IJobMarket.Job memory j = jm.getJob(id);
        if (j.status != IJobMarket.JobStatus.Created || block.timestamp > j.deadline) return;
        Eviction memory e;
        e.id = id;
        e.customer = j.customer;
        e.epoch = jm.currentEpoch();
        (, uint256 commitEnd, , ) = jm.epochWindows(e.epoch);
        if (block.timestamp >= commitEnd) return;
        e.list = jm.epochBids(e.epoch);
        if (e.list.length == 0) return;
        calls[this.evictBid.selector]++;
        e.pos = victimSeed % e.list.length;
        e.victim = e.list[e.pos];
        uint256 truePrev = e.pos == 0 ? 0 : e.list[e.pos - 1];
        e.prev = validPrev ? truePrev : jobIds[prevSeed % jobIds.length];
        e.victimDeposit = jm.getJob(e.victim).deposit;
        e.deposit = jm.params().reservePrice + bound(extra, 0, 4 ether);
        if (e.deposit == 0) e.deposit = 1; // a zero reserve still needs a deposit
        e.valid =
            e.list.length >= jm.params().maxBidsPerEpoch &&
            e.prev == truePrev &&
            e.victimDeposit < e.deposit;
        e.victimCustomer = jm.getJob(e.victim).customer;
        e.victimBefore = token.balanceOf(e.victimCustomer);
        _tryEvict(e);
    }

    function _tryEvict(Eviction memory e) internal {
        uint256 b = jm.params().reservePrice;
        bytes32 salt = keccak256(abi.encode(e.id, e.epoch, "evict"));
        vm.prank(e.customer);
        try
            jm.commitBidEvicting(
                e.id,
                keccak256(abi.encode(e.id, b, salt, e.customer)),
                e.deposit,
                e.victim,
                e.prev
            )
        {
            if (!e.valid) evictionMismatches++;
            evictions++;
            bidOf[e.id] = b;
            saltOf[e.id] = salt;
            uint64[] memory after_ = jm.epochBids(e.epoch);
            if (after_.length != e.list.length) evictionMismatches++;
            for (uint256 i = 0; i < e.list.length && i < after_.length; ++i) {
                if (after_[i] != (i == e.pos ? e.id : e.list[i])) evictionMismatches++;
            }
            IJobMarket.Job memory v = jm.getJob(e.victim);
            if (v.status != IJobMarket.JobStatus.Created || v.deposit != 0) evictionMismatches++;
            uint256 refunded = token.balanceOf(e.victimCustomer) - e.victimBefore;
            if (e.victimCustomer != e.customer && refunded != e.victimDeposit) evictionMismatches++;
        } catch (bytes memory err) {
            if (e.valid || bytes4(err) != IJobMarket.JobMarketInvalidEviction.selector) evictionMismatches++;
            if (keccak256(abi.encode(jm.epochBids(e.epoch))) != keccak256(abi.encode(e.list)))
                evictionMismatches++;
        }
    }

    // ---------------------------------------------------------------- auction finalisation

    function finalizeEpoch(uint256 epochSeed) external {
        if (bidEpochs.length == 0) return;
        uint256 epoch = bidEpochs[epochSeed % bidEpochs.length];
        if (!_finalizable(epoch)) return;
        calls[this.finalizeEpoch.selector]++;
        _finalizeAndCheck(epoch);
    }

    function _finalizable(uint256 epoch) internal view returns (bool) {
        if (jm.epochInfo(epoch).finalized) return false;
        uint256 current = jm.currentEpoch();
        if (epoch < current) return true;
        if (epoch > current) return false;
        (, , uint256 revealEnd, ) = jm.epochWindows(epoch);
        return block.timestamp >= revealEnd;
    }

    /// @dev Reference: winners are the first K revealed bids ordered by (bid desc, commit order asc); price is
    ///      the (K+1)-th revealed bid or the reserve.
    function _finalizeAndCheck(uint256 epoch) internal {
        uint64[] memory ids = jm.epochBids(epoch);
        uint256 n = ids.length;
        uint256[] memory bids = new uint256[](n);
        bool[] memory rev = new bool[](n);
        for (uint256 i = 0; i < n; ++i) {
            IJobMarket.Job memory j = jm.getJob(ids[i]);
            rev[i] = j.revealed;
            bids[i] = j.bid;
        }
        IJobMarket.Params memory p = jm.params();
        bool[] memory win = new bool[](n);
        uint256 price = p.reservePrice;
        for (uint256 round = 0; round <= p.capacity; ++round) {
            uint256 best = type(uint256).max;
            for (uint256 i = 0; i < n; ++i) {
                if (!rev[i] || win[i]) continue;
                if (best == type(uint256).max || bids[i] > bids[best]) best = i;
            }
            if (best == type(uint256).max) break;
            if (round == p.capacity) price = bids[best];
            else win[best] = true;
        }
        uint256 treasuryBefore = token.balanceOf(jm.treasury());
        jm.finalizeEpoch(epoch);
        epochsFinalized++;
        uint256 expectedTreasury;
        for (uint256 i = 0; i < n; ++i) {
            IJobMarket.Job memory j = jm.getJob(ids[i]);
            bool scheduled = j.status == IJobMarket.JobStatus.Scheduled && j.scheduledEpoch == epoch;
            if (scheduled != win[i]) auctionMismatches++;
            if (win[i]) {
                jobsScheduled++;
                // the clearing price is read from the epoch (checked below); no winner pays above its bid
                if (price > bids[i]) auctionMismatches++;
                expectedTreasury += price;
            } else if (j.status != IJobMarket.JobStatus.Created) {
                auctionMismatches++;
            }
            if (j.deposit != 0) auctionMismatches++;
        }
        if (jm.epochInfo(epoch).clearingPrice != price) auctionMismatches++;
        // penalties go to the treasury too, so the prices are a lower bound
        if (token.balanceOf(jm.treasury()) - treasuryBefore < expectedTreasury) auctionMismatches++;
    }

    // ---------------------------------------------------------------- nodes and modules

    function assignCohort(uint256 jobSeed, uint32 count) external {
        (uint256 id, bool ok) = _job(jobSeed);
        if (!ok) return;
        IJobMarket.Job memory j = jm.getJob(id);
        if (j.status != IJobMarket.JobStatus.Scheduled || block.timestamp > j.deadline) return;
        calls[this.assignCohort.selector]++;
        _assign(id, keccak256(abi.encode(id, count)), uint32(bound(count, j.minDevices, j.maxDevices)));
    }

    /// @dev The attestation module assigns `distributor`'s cohort, after the block that seeds the job's epoch
    ///      (re-arming the seed first when its block hash expired).
    function _assign(uint256 id, bytes32 root, uint32 count) internal {
        uint256 epoch = jm.getJob(id).scheduledEpoch;
        if (jm.epochSeed(epoch) == bytes32(0)) {
            vm.roll(block.number + 2);
            if (jm.fixSeed(epoch) == bytes32(0)) {
                vm.roll(block.number + 2);
                jm.fixSeed(epoch);
            }
        }
        vm.prank(attestation);
        jm.markAssigned(id, root, count, "bafy-cohort", distributor, aggregator);
    }

    /// @dev The attestation module's hooks: Assigned → Committed → Attested.
    function advance(uint256 jobSeed) external {
        (uint256 id, bool ok) = _job(jobSeed);
        if (!ok) return;
        IJobMarket.Job memory j = jm.getJob(id);
        if (block.timestamp > j.deadline) return;
        if (j.status == IJobMarket.JobStatus.Assigned) {
            calls[this.advance.selector]++;
            vm.prank(attestation);
            jm.markCommitted(id);
        } else if (j.status == IJobMarket.JobStatus.Committed) {
            calls[this.advance.selector]++;
            vm.prank(attestation);
            jm.markAttested(id);
        }
    }

    /// @dev Drives the first live Scheduled..Attested job found from `jobSeed` towards settlement, stopping at a
    ///      random phase; `outcome` picks how far it goes, settle (success or failure, some amount) or fail.
    function runJob(uint256 jobSeed, uint256 outcome) external {
        uint256 n = jobIds.length;
        for (uint256 t = 0; t < n; ++t) {
            uint256 id = jobIds[((jobSeed % n) + t) % n];
            IJobMarket.Job memory j = jm.getJob(id);
            if (j.status < IJobMarket.JobStatus.Scheduled || j.status > IJobMarket.JobStatus.Attested)
                continue;
            if (block.timestamp > j.deadline) continue;
            calls[this.runJob.selector]++;
            if (j.status == IJobMarket.JobStatus.Scheduled) {
                _assign(id, keccak256(abi.encode(id)), j.maxDevices);
            }
            uint256 stopAt = outcome % 4; // 0..1 stop after that many hook steps, 2..3 attest and settle
            for (uint256 step = 0; step < 2 && step < stopAt + 1; ++step) this.advance(id);
            if (stopAt >= 2 && jm.status(id) == IJobMarket.JobStatus.Attested) {
                uint256 escrow = jm.escrowOf(id);
                this.settle(id, escrow / ((outcome % 3) + 1), outcome >> 4, (outcome >> 2) % 2 == 0);
            }
            if ((outcome >> 8) % 3 == 0) this.fail(id, outcome % 2 == 0);
            return;
        }
    }

    /// @dev The settlement module settles an Attested job with a bounded amount and checks the exact payouts;
    ///      sometimes it first tries more than the escrow, which must revert and change nothing.
    function settle(uint256 jobSeed, uint256 amount, uint256 overSeed, bool success) external {
        (uint256 id, bool ok) = _job(jobSeed);
        if (!ok) return;
        IJobMarket.Job memory j = jm.getJob(id);
        if (j.status != IJobMarket.JobStatus.Attested || block.timestamp > j.deadline) return;
        calls[this.settle.selector]++;
        uint256 escrow = j.escrow;
        uint256 moduleBefore = token.balanceOf(settlement);
        uint256 customerBefore = token.balanceOf(j.customer);
        if (overSeed % 4 == 0) {
            uint256 over = escrow + bound(overSeed, 1, 1_000 ether);
            vm.prank(settlement);
            try jm.settle(id, over, success, "over") {
                settleMismatches++;
            } catch (bytes memory err) {
                bytes memory want = abi.encodeWithSelector(
                    IJobMarket.JobMarketInsufficientEscrow.selector,
                    id,
                    escrow,
                    over
                );
                if (keccak256(err) != keccak256(want)) settleMismatches++;
            }
            if (jm.escrowOf(id) != escrow || jm.status(id) != IJobMarket.JobStatus.Attested)
                settleMismatches++;
        }
        uint256 a = bound(amount, 0, escrow);
        vm.prank(settlement);
        jm.settle(id, a, success, success ? bytes32(0) : bytes32("handler"));
        paidOut += a;
        if (success) jobsSettled++;
        if (token.balanceOf(settlement) - moduleBefore != a) settleMismatches++;
        if (token.balanceOf(j.customer) - customerBefore != escrow - a) settleMismatches++;
        if (jm.escrowOf(id) != 0) settleMismatches++;
        IJobMarket.JobStatus end = success ? IJobMarket.JobStatus.Settled : IJobMarket.JobStatus.Failed;
        if (jm.status(id) != end) settleMismatches++;
    }

    function fail(uint256 jobSeed, bool viaAttestation) external {
        (uint256 id, bool ok) = _job(jobSeed);
        if (!ok) return;
        IJobMarket.Job memory j = jm.getJob(id);
        if (j.status < IJobMarket.JobStatus.Assigned || j.status > IJobMarket.JobStatus.Attested) return;
        calls[this.fail.selector]++;
        vm.prank(viaAttestation ? attestation : settlement);
        jm.markFailed(id, "handler");
    }

    function timeout(uint256 jobSeed, uint256 callerSeed) external {
        (uint256 id, bool ok) = _job(jobSeed);
        if (!ok) return;
        IJobMarket.Job memory j = jm.getJob(id);
        if (
            j.status == IJobMarket.JobStatus.Bidding ||
            j.status >= IJobMarket.JobStatus.Settled ||
            block.timestamp <= j.deadline
        ) return;
        calls[this.timeout.selector]++;
        vm.prank(customers[callerSeed % customers.length]);
        jm.timeout(id);
    }

    /// @dev mode 0: a bounded jump; 1: to this epoch's reveal window; 2: to its reveal end; 3: to the next epoch.
    function warp(uint256 secs, uint8 mode) external {
        calls[this.warp.selector]++;
        (, uint256 commitEnd, uint256 revealEnd, uint256 end) = jm.epochWindows(jm.currentEpoch());
        uint256 m = mode % 4;
        if (m == 1 && block.timestamp < commitEnd) vm.warp(commitEnd);
        else if (m == 2 && block.timestamp < revealEnd) vm.warp(revealEnd);
        else if (m == 3) vm.warp(end);
        else vm.warp(block.timestamp + bound(secs, 1, 3 hours));
    }

    // ---------------------------------------------------------------- governance

    function setCapacity(uint16 k, uint96 reserve) external {
        calls[this.setCapacity.selector]++;
        IJobMarket.Params memory p = jm.params();
        p.capacity = uint16(bound(k, 1, 4));
        p.reservePrice = uint96(bound(reserve, 0, 3 ether));
        vm.prank(governance);
        jm.setParams(p);
    }

    function upgrade() external {
        calls[this.upgrade.selector]++;
        bytes32 before = _stateHash();
        JobMarketV2 impl = new JobMarketV2();
        vm.prank(governance);
        jm.upgradeToAndCall(address(impl), "");
        upgrades++;
        if (_stateHash() != before) upgradeMismatches++;
    }

    function _stateHash() internal view returns (bytes32 h) {
        h = keccak256(
            abi.encode(jm.jobCount(), jm.params(), jm.treasury(), jm.governance(), jm.currentEpoch())
        );
        for (uint256 i = 0; i < jobIds.length; ++i) h = keccak256(abi.encode(h, jm.getJob(jobIds[i])));
        for (uint256 i = 0; i < bidEpochs.length; ++i) {
            h = keccak256(abi.encode(h, jm.epochInfo(bidEpochs[i]), jm.epochBids(bidEpochs[i])));
        }
    }

    // ---------------------------------------------------------------- drain (used by the termination invariant)

    /// @dev Warps past every deadline, finalises every pending epoch and times out every live job.
    function drain() external {
        for (uint256 round = 0; round < 8; ++round) {
            vm.warp(block.timestamp + 3 days);
            for (uint256 e = 0; e < bidEpochs.length; ++e) {
                if (_finalizable(bidEpochs[e])) jm.finalizeEpoch(bidEpochs[e]);
            }
            for (uint256 i = 0; i < jobIds.length; ++i) {
                IJobMarket.Job memory j = jm.getJob(jobIds[i]);
                if (
                    j.status != IJobMarket.JobStatus.Bidding &&
                    j.status < IJobMarket.JobStatus.Settled &&
                    block.timestamp > j.deadline
                ) jm.timeout(jobIds[i]);
            }
        }
    }
}
