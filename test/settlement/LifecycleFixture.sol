// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {BaseTest} from "../utils/BaseTest.sol";
import {IJobMarket} from "../../contracts/interfaces/IJobMarket.sol";
import {INodeStaking} from "../../contracts/interfaces/INodeStaking.sol";
import {IDeviceRegistry} from "../../contracts/interfaces/IDeviceRegistry.sol";
import {IAlgorithmMarketplace} from "../../contracts/interfaces/IAlgorithmMarketplace.sol";
import {IResultAttestation} from "../../contracts/interfaces/IResultAttestation.sol";
import {ISettlement} from "../../contracts/interfaces/ISettlement.sol";
import {IGrowthPool} from "../../contracts/interfaces/IGrowthPool.sol";
import {MerkleHelper} from "../utils/MerkleHelper.sol";

/// @notice Merkle trees exactly as OpenZeppelin's StandardMerkleTree ["address","uint256"] verifies them
///         (double-hashed leaves, sorted-pair hashing); any tree shape built this way verifies with MerkleProof.
library TestMerkle {
    function leaf(address account, uint256 amount) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(account, amount))));
    }

    function hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return a < b ? keccak256(abi.encode(a, b)) : keccak256(abi.encode(b, a));
    }

    function root(bytes32[] memory leaves) internal pure returns (bytes32) {
        bytes32[] memory layer = leaves;
        while (layer.length > 1) layer = _up(layer);
        return layer[0];
    }

    function proof(bytes32[] memory leaves, uint256 index) internal pure returns (bytes32[] memory p) {
        bytes32[] memory tmp = new bytes32[](32);
        uint256 n = 0;
        bytes32[] memory layer = leaves;
        while (layer.length > 1) {
            uint256 sibling = index ^ 1;
            if (sibling < layer.length) tmp[n++] = layer[sibling];
            layer = _up(layer);
            index /= 2;
        }
        p = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) p[i] = tmp[i];
    }

    function _up(bytes32[] memory layer) private pure returns (bytes32[] memory next) {
        next = new bytes32[]((layer.length + 1) / 2);
        for (uint256 i = 0; i < next.length; ++i) {
            uint256 left = 2 * i;
            next[i] = left + 1 < layer.length ? hashPair(layer[left], layer[left + 1]) : layer[left];
        }
    }
}

/// @dev Initializers of the real contracts (not part of their interfaces). The fixture deploys implementations
///      from their Hardhat artifacts (`vm.getCode`) so that test compilation units stay small. `vm.getCode`
///      reads `artifacts/`, which `hardhat test solidity` does not rewrite: run `npx hardhat build` after
///      changing a contract, or these tests exercise the previous bytecode.
interface IStakingInit {
    function initialize(
        address governance,
        IERC20 token,
        address treasury,
        uint256[5] calldata minStakes,
        uint64 unbondingDelay,
        uint16 challengerShareBps,
        bool burnSlashed
    ) external;
}

interface IRegistryInit {
    function initialize(address governance, IERC20 token, uint256 deviceBond) external;
}

interface IMarketInit {
    function initialize(
        address governance,
        IERC20 token,
        address treasury,
        uint16 protocolFeeBps,
        uint16 parentShareBps
    ) external;
}

interface IJobMarketInit {
    function initialize(
        address governance,
        IERC20 token,
        IAlgorithmMarketplace market,
        INodeStaking staking,
        IDeviceRegistry registry,
        address treasury,
        IJobMarket.Params calldata params
    ) external;
}

interface IAttestationInit {
    function initialize(
        address governance,
        IJobMarket jobMarket,
        INodeStaking staking,
        IGrowthPool growthPool,
        IResultAttestation.Params calldata params
    ) external;
}

interface IGrowthPoolInit {
    function initialize(
        address governance,
        IERC20 token,
        INodeStaking staking,
        IDeviceRegistry registry,
        IGrowthPool.Config calldata config,
        IGrowthPool.VrfConfig calldata vrf,
        IGrowthPool.ChallengeConfig calldata challenge
    ) external;
}

interface ISettlementInit {
    function initialize(
        address governance,
        IJobMarket jobMarket,
        IResultAttestation attestation,
        uint64 claimWindow
    ) external;
}

/// @notice Deploys the real protocol behind ERC1967 proxies — DMLToken, NodeStaking, DeviceRegistry,
///         AlgorithmMarketplace, JobMarket, ResultAttestation, Settlement, FineTuning — wires modules, slashers and
///         the publisher, stakes operators and offers lifecycle helpers.
abstract contract LifecycleFixture is BaseTest {
    /// @dev The artifact's creation code reverted.
    error FixtureDeployFailed(string name);

    bytes32 internal constant SCHEMA = keccak256("email/rfc822-v1");
    bytes32 internal constant MODEL = 0xd7c4b743081e6ccdf263598ab3a94f5df38c9f2aec014973c0806819d7762f26;
    string internal constant PKG = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";
    string internal constant TRANSCRIPT = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
    string internal constant REPORT = "bafkreie5nuy3b5kzkz5ouyy4v7y2yhqj5qfq2h2zjt7hslzmq3zyqmfgmi";
    string internal constant PAYOUTS = "bafkreiapayoutlistpayoutlistpayoutlistpayoutlistpayoutlist";
    uint256 internal constant USE_PRICE = 5 ether;
    uint96 internal constant REWARD = 2 ether;
    uint32 internal constant MAX_DEVICES = 50;
    uint256 internal constant MIN_STAKE = 1_000 ether;
    uint96 internal constant SLASH = 100 ether;
    uint8 internal constant Q = 3;
    uint256 internal constant N_ATTESTORS = 5;
    /// @dev Smallest cohort ResultAttestation accepts (below every job's `minDevices` here).
    uint32 internal constant K_MIN = 5;
    /// @dev Growth-pool epoch length and challenge window of the fixture's pool.
    uint64 internal constant GROWTH_EPOCH = 1 days;
    uint64 internal constant GROWTH_CHALLENGE_WINDOW = 1 hours;
    /// @dev The growth-pool epoch whose (standing) connected set the suites' cohorts are drawn from, and its size.
    uint256 internal constant CONNECTED_EPOCH = 0;
    uint256 internal constant CONNECTED_N = 1_000;
    /// @dev The aggregate hash of the attested results the suites report.
    bytes32 internal constant AGG_HASH = keccak256("aggregate");

    address internal governance = makeAddr("governance");
    address internal treasury = makeAddr("treasury");
    address internal growthPool = makeAddr("growthPool");
    address internal developer = makeAddr("developer");
    address internal customer = makeAddr("customer");
    address internal distributor = makeAddr("distributor");
    address internal aggregator = makeAddr("aggregator");
    address internal reporter = makeAddr("reporter");
    address internal refiner = makeAddr("refiner");
    address internal keeper = makeAddr("keeper");
    address[] internal attestorSet;

    IERC20 internal token;
    INodeStaking internal staking;
    IDeviceRegistry internal registry;
    IAlgorithmMarketplace internal market;
    IJobMarket internal jm;
    IResultAttestation internal ra;
    ISettlement internal settlement;
    IGrowthPool internal growth;
    uint256 internal algorithmId;

    /// @dev Deploys `name`'s artifact with constructor arguments `args`.
    function deployArtifact(string memory name, bytes memory args) internal returns (address a) {
        bytes memory code = bytes.concat(vm.getCode(name), args);
        assembly {
            a := create(0, add(code, 0x20), mload(code))
        }
        if (a == address(0)) revert FixtureDeployFailed(name);
    }

    function setUp() public virtual {
        token = IERC20(deployArtifact("DMLToken", abi.encode(address(this), growthPool)));
        uint256[5] memory mins = [MIN_STAKE, MIN_STAKE, MIN_STAKE, MIN_STAKE, MIN_STAKE];
        staking = INodeStaking(
            deployProxy(
                deployArtifact("NodeStaking", ""),
                abi.encodeCall(
                    IStakingInit.initialize,
                    (governance, token, treasury, mins, 7 days, 1_000, false)
                )
            )
        );
        registry = IDeviceRegistry(
            deployProxy(
                deployArtifact("DeviceRegistry", ""),
                abi.encodeCall(IRegistryInit.initialize, (governance, IERC20(address(token)), 10 ether))
            )
        );
        market = IAlgorithmMarketplace(
            deployProxy(
                deployArtifact("AlgorithmMarketplace", ""),
                abi.encodeCall(IMarketInit.initialize, (governance, token, treasury, 500, 2_000))
            )
        );
        growth = _deployGrowthPool();
        jm = IJobMarket(
            deployProxy(
                deployArtifact("JobMarket", ""),
                abi.encodeCall(
                    IJobMarketInit.initialize,
                    (governance, token, market, staking, registry, treasury, jobParams())
                )
            )
        );
        ra = IResultAttestation(
            deployProxy(
                deployArtifact("ResultAttestation", ""),
                abi.encodeCall(IAttestationInit.initialize, (governance, jm, staking, growth, raParams()))
            )
        );
        settlement = ISettlement(
            deployProxy(
                deployArtifact("Settlement", abi.encode(address(token))),
                abi.encodeCall(ISettlementInit.initialize, (governance, jm, ra, 30 days))
            )
        );
        _wireAndStake();
    }

    /// @dev A real GrowthPool (its connected sets are what cohorts are drawn from); funded at its predicted
    ///      address, as the token's genesis mint funds it in the deployment. No VRF request is made here.
    function _deployGrowthPool() internal returns (IGrowthPool) {
        address impl = deployArtifact("GrowthPool", "");
        token.transfer(vm.computeCreateAddress(address(this), vm.getNonce(address(this))), 1_000_000 ether);
        return
            IGrowthPool(
                deployProxy(
                    impl,
                    abi.encodeCall(
                        IGrowthPoolInit.initialize,
                        (
                            governance,
                            token,
                            staking,
                            registry,
                            IGrowthPool.Config({
                                genesis: uint64(block.timestamp),
                                epochLength: GROWTH_EPOCH,
                                halvingEpochs: 4,
                                winnersPerEpoch: 3,
                                claimWindow: 7 days
                            }),
                            IGrowthPool.VrfConfig({
                                coordinator: makeAddr("vrfCoordinator"),
                                keyHash: keccak256("key-hash"),
                                subscriptionId: 1,
                                requestConfirmations: 3,
                                callbackGasLimit: 200_000
                            }),
                            IGrowthPool.ChallengeConfig({
                                challengeWindow: GROWTH_CHALLENGE_WINDOW,
                                slashAmount: SLASH
                            })
                        )
                    )
                )
            );
    }

    /// @dev The distributor posts `epoch`'s connected set once the epoch is over; the post stands after its
    ///      challenge window.
    function postStandingConnectedSet(uint256 epoch, bytes32 root, uint256 n) internal {
        uint256 end = growth.epochEnd(epoch);
        if (block.timestamp < end) vm.warp(end);
        vm.prank(distributor);
        growth.postEpoch(epoch, root, n, "bafy-connected-set");
        vm.warp(block.timestamp + GROWTH_CHALLENGE_WINDOW + 1);
    }

    /// @dev Authorises the modules, lists the algorithm, stakes the operators and funds the customer.
    function _wireAndStake() internal {
        vm.startPrank(governance);
        jm.setModule(jm.ATTESTATION_MODULE(), address(ra));
        jm.setModule(jm.SETTLEMENT_MODULE(), address(settlement));
        staking.setSlasher(address(ra), true);
        vm.stopPrank();

        vm.prank(developer);
        algorithmId = market.list(PKG, MODEL, SCHEMA, USE_PRICE, 100 ether, 0, "");

        _operator(distributor, INodeStaking.Role.Distributor);
        _operator(aggregator, INodeStaking.Role.Aggregator);
        _operator(reporter, INodeStaking.Role.Reporter);
        _operator(refiner, INodeStaking.Role.Refiner);
        for (uint256 i = 0; i < N_ATTESTORS; ++i) {
            address a = makeAddr(string.concat("attestor", vm.toString(i)));
            attestorSet.push(a);
            _operator(a, INodeStaking.Role.Attestor);
        }
        fund(customer, 10_000_000 ether);
        vm.prank(customer);
        token.approve(address(jm), type(uint256).max);
        // Cohorts come from the latest standing connected set (a placeholder root: these suites do not prove
        // membership; test/exploits/H4_* posts a real one).
        postStandingConnectedSet(CONNECTED_EPOCH, keccak256("connected set"), CONNECTED_N);
    }

    // ------------------------------------------------------------------------------------------------ params

    function jobParams() internal pure returns (IJobMarket.Params memory p) {
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

    function spec() internal view returns (IJobMarket.JobSpec memory s) {
        s.algorithmId = algorithmId;
        s.schema = SCHEMA;
        s.minDevices = 10;
        s.maxDevices = MAX_DEVICES;
        s.rewardPerDevice = REWARD;
        s.minParticipants = 8;
        s.maxStdError = 0.05e18;
        s.encryptionKey = abi.encodePacked(bytes1(0x02), keccak256("customer-key"));
        s.durations = durations();
        s.maxUsePrice = uint96(USE_PRICE);
    }

    // ------------------------------------------------------------------------------------------------ actors

    function fund(address to, uint256 amount) internal {
        token.transfer(to, amount);
    }

    function _operator(address op, INodeStaking.Role role) internal {
        fund(op, MIN_STAKE * 2);
        vm.startPrank(op);
        if (!staking.isRegistered(op))
            staking.register("https://node.example", keccak256(abi.encode(op)), "");
        token.approve(address(staking), type(uint256).max);
        staking.stake(role, MIN_STAKE);
        vm.stopPrank();
    }

    function registerDevice(address device) internal {
        bytes32[] memory schemas = new bytes32[](1);
        schemas[0] = SCHEMA;
        IDeviceRegistry.Consent memory c;
        c.anyAlgorithmInSchema = true;
        uint256 bond = registry.deviceBond();
        fund(device, bond);
        vm.startPrank(device);
        IERC20(address(token)).approve(address(registry), bond);
        registry.register(schemas, c);
        vm.stopPrank();
    }

    // ------------------------------------------------------------------------------------------------ job flow

    /// @dev create → commit bid → reveal → finalize epoch: returns a Scheduled job.
    function scheduledJob() internal returns (uint256 jobId) {
        IJobMarket.JobSpec memory s = spec();
        (, uint256 cEnd, , uint256 eEnd) = jm.epochWindows(jm.currentEpoch());
        if (block.timestamp >= cEnd) vm.warp(eEnd);
        vm.prank(customer);
        jobId = jm.createJob(s);
        uint256 epoch = jm.currentEpoch();
        bytes32 salt = keccak256(abi.encode("bid", jobId));
        vm.prank(customer);
        jm.commitBid(jobId, keccak256(abi.encode(jobId, uint256(2 ether), salt, customer)), 2 ether);
        (, uint256 commitEnd, uint256 revealEnd, ) = jm.epochWindows(epoch);
        vm.warp(commitEnd);
        jm.revealBid(jobId, 2 ether, salt);
        vm.warp(revealEnd);
        jm.finalizeEpoch(epoch);
        // the epoch's seed is the hash of the block after finalisation (PROTOCOL.md §7.1): mine past it
        vm.roll(block.number + 2);
    }

    /// @dev The distributor assigns the cohort through ResultAttestation, which draws the attestors.
    function assignedJob(uint32 deviceCount) internal returns (uint256 jobId) {
        jobId = scheduledJob();
        vm.prank(distributor);
        ra.assignCohort(jobId, keccak256("cohort"), deviceCount, "bafy-cohort", aggregator, CONNECTED_EPOCH);
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
