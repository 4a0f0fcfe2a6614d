// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {GovernedUUPS} from "./utils/GovernedUUPS.sol";
import {CidLimits} from "./utils/CidLimits.sol";
import {IAlgorithmMarketplace} from "./interfaces/IAlgorithmMarketplace.sol";

/// @title AlgorithmMarketplace
/// @notice Algorithm listings and versions, licence sales, per-use payments, child versions sharing revenue
///         with their parent, and tailor-made requests with escrowed bounties.
/// @dev Sales are paid by direct SafeERC20 transfers from the payer to the developer, parent developer and
///      treasury, so the contract only ever holds the bounties of open requests.
contract AlgorithmMarketplace is GovernedUUPS, ReentrancyGuardTransient, IAlgorithmMarketplace {
    using SafeERC20 for IERC20;

    /// @notice Basis-point denominator.
    uint256 public constant BPS = 10_000;
    /// @notice Upper bound of the protocol fee (20%).
    uint16 public constant MAX_PROTOCOL_FEE_BPS = 2_000;
    /// @notice Upper bound of the parent share (50%).
    uint16 public constant MAX_PARENT_SHARE_BPS = 5_000;
    /// @notice Longest CID accepted on-chain, in bytes (CIDv1 base32 sha2-256 is 59, CIDv0 is 46).
    uint256 public constant MAX_CID_LENGTH = CidLimits.MAX_LENGTH;
    /// @notice Longest request duration.
    uint256 public constant MAX_REQUEST_DURATION = 365 days;

    /// @custom:storage-location erc7201:dml.storage.AlgorithmMarketplace
    struct AlgorithmMarketplaceStorage {
        IERC20 token;
        address treasury;
        uint16 protocolFeeBps;
        uint16 parentShareBps;
        uint256 algorithmCount;
        uint256 requestCount;
        uint256 totalEscrowed;
        mapping(uint256 algorithmId => Algorithm) algorithms;
        mapping(address customer => mapping(uint256 algorithmId => bool)) licences;
        mapping(address publisher => bool) publishers;
        mapping(uint256 requestId => Request) requests;
        mapping(uint256 requestId => mapping(uint256 algorithmId => bool)) submitted;
    }

    // keccak256(abi.encode(uint256(keccak256("dml.storage.AlgorithmMarketplace")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant ALGORITHM_MARKETPLACE_STORAGE_LOCATION =
        0xd603a2f6c3071278cf66233f8da683ded5258f14f5e7b6fb9083f48608a4c500;

    /// @notice Initialises the proxy.
    /// @param governance_ The governance timelock.
    /// @param token_ The DML token.
    /// @param treasury_ Receives protocol fees.
    /// @param protocolFeeBps_ Protocol fee (at most `MAX_PROTOCOL_FEE_BPS`).
    /// @param parentShareBps_ Parent share of a child's revenue after the fee (at most `MAX_PARENT_SHARE_BPS`).
    function initialize(
        address governance_,
        IERC20 token_,
        address treasury_,
        uint16 protocolFeeBps_,
        uint16 parentShareBps_
    ) external initializer {
        if (address(token_) == address(0) || treasury_ == address(0)) revert GovernedZeroAddress();
        __GovernedUUPS_init(governance_);
        AlgorithmMarketplaceStorage storage $ = _getAlgorithmMarketplaceStorage();
        $.token = token_;
        _setTreasury($, treasury_);
        _setProtocolFeeBps($, protocolFeeBps_);
        _setParentShareBps($, parentShareBps_);
    }

    // ------------------------------------------------------------------ listings

    /// @inheritdoc IAlgorithmMarketplace
    function list(
        string calldata packageCid,
        bytes32 modelSha256,
        bytes32 schema,
        uint256 usePrice,
        uint256 licencePrice,
        uint256 parentId,
        string calldata metadataCid
    ) external returns (uint256 algorithmId) {
        AlgorithmMarketplaceStorage storage $ = _getAlgorithmMarketplaceStorage();
        if (schema == bytes32(0)) revert MarketplaceZeroSchema();
        if (parentId != 0) {
            bytes32 parentSchema = _algorithm($, parentId).schema;
            if (parentSchema != schema) revert MarketplaceSchemaMismatch(parentSchema, schema);
        }
        _checkCid(metadataCid, false);
        algorithmId = _list(
            $,
            Algorithm({
                developer: msg.sender,
                parentId: parentId,
                schema: schema,
                modelSha256: modelSha256,
                packageCid: packageCid,
                metadataCid: metadataCid,
                usePrice: usePrice,
                licencePrice: licencePrice,
                deprecated: false
            })
        );
    }

    /// @inheritdoc IAlgorithmMarketplace
    function publishChildVersion(
        uint256 parentId,
        address developer,
        string calldata packageCid,
        bytes32 modelSha256
    ) external returns (uint256 childId) {
        AlgorithmMarketplaceStorage storage $ = _getAlgorithmMarketplaceStorage();
        if (!$.publishers[msg.sender]) revert MarketplaceNotPublisher(msg.sender);
        if (developer == address(0)) revert GovernedZeroAddress();
        Algorithm storage parent = _algorithm($, parentId);
        childId = _list(
            $,
            Algorithm({
                developer: developer,
                parentId: parentId,
                schema: parent.schema,
                modelSha256: modelSha256,
                packageCid: packageCid,
                metadataCid: "",
                usePrice: parent.usePrice,
                licencePrice: parent.licencePrice,
                deprecated: false
            })
        );
        emit ChildVersionPublished(parentId, childId, msg.sender);
    }

    /// @inheritdoc IAlgorithmMarketplace
    function updatePrices(uint256 algorithmId, uint256 usePrice, uint256 licencePrice) external {
        Algorithm storage a = _ownListedAlgorithm(algorithmId);
        a.usePrice = usePrice;
        a.licencePrice = licencePrice;
        emit AlgorithmPricesUpdated(algorithmId, usePrice, licencePrice);
    }

    /// @inheritdoc IAlgorithmMarketplace
    function deprecate(uint256 algorithmId) external {
        Algorithm storage a = _ownListedAlgorithm(algorithmId);
        a.deprecated = true;
        emit AlgorithmDeprecated(algorithmId);
    }

    // ------------------------------------------------------------------ sales

    /// @inheritdoc IAlgorithmMarketplace
    function buyLicence(uint256 algorithmId, uint256 maxPrice) external nonReentrant {
        AlgorithmMarketplaceStorage storage $ = _getAlgorithmMarketplaceStorage();
        Algorithm storage a = _algorithm($, algorithmId);
        if (a.deprecated) revert MarketplaceAlgorithmDeprecated(algorithmId);
        uint256 price = a.licencePrice;
        if (price == 0) revert MarketplaceLicenceNotForSale(algorithmId);
        if (price > maxPrice) revert MarketplacePriceAboveMax(price, maxPrice);
        if ($.licences[msg.sender][algorithmId]) revert MarketplaceAlreadyLicensed(msg.sender, algorithmId);
        $.licences[msg.sender][algorithmId] = true;
        emit LicencePurchased(algorithmId, msg.sender, price);
        _collect($, a, algorithmId, msg.sender, price);
    }

    /// @inheritdoc IAlgorithmMarketplace
    /// @dev Permissionless: it only moves the caller's own tokens. `payer` is recorded in the event only.
    function payUse(uint256 algorithmId, address payer) external nonReentrant {
        AlgorithmMarketplaceStorage storage $ = _getAlgorithmMarketplaceStorage();
        Algorithm storage a = _algorithm($, algorithmId);
        if (a.deprecated) revert MarketplaceAlgorithmDeprecated(algorithmId);
        uint256 price = a.usePrice;
        emit UsePaid(algorithmId, payer, msg.sender, price);
        if (price != 0) _collect($, a, algorithmId, msg.sender, price);
    }

    // ------------------------------------------------------------------ tailor-made requests

    /// @inheritdoc IAlgorithmMarketplace
    function postRequest(
        string calldata specCid,
        bytes32 schema,
        uint256 bounty,
        uint64 deadline
    ) external nonReentrant returns (uint256 requestId) {
        _checkCid(specCid, true);
        if (schema == bytes32(0)) revert MarketplaceZeroSchema();
        if (bounty == 0) revert MarketplaceZeroBounty();
        if (deadline <= block.timestamp || deadline > block.timestamp + MAX_REQUEST_DURATION) {
            revert MarketplaceInvalidDeadline(deadline);
        }
        AlgorithmMarketplaceStorage storage $ = _getAlgorithmMarketplaceStorage();
        requestId = ++$.requestCount;
        Request storage r = $.requests[requestId];
        r.customer = msg.sender;
        r.deadline = deadline;
        r.status = RequestStatus.Open;
        r.schema = schema;
        r.bounty = bounty;
        r.specCid = specCid;
        $.totalEscrowed += bounty;
        emit RequestPosted(requestId, msg.sender, schema, bounty, deadline, specCid);
        $.token.safeTransferFrom(msg.sender, address(this), bounty);
    }

    /// @inheritdoc IAlgorithmMarketplace
    function submitToRequest(uint256 requestId, uint256 algorithmId) external {
        AlgorithmMarketplaceStorage storage $ = _getAlgorithmMarketplaceStorage();
        Request storage r = _openRequest($, requestId);
        if (block.timestamp > r.deadline) revert MarketplaceRequestDeadlinePassed(requestId, r.deadline);
        Algorithm storage a = _algorithm($, algorithmId);
        if (a.developer != msg.sender) revert MarketplaceNotDeveloper(algorithmId, msg.sender);
        if (a.deprecated) revert MarketplaceAlgorithmDeprecated(algorithmId);
        if (a.schema != r.schema) revert MarketplaceSchemaMismatch(r.schema, a.schema);
        if ($.submitted[requestId][algorithmId]) revert MarketplaceAlreadySubmitted(requestId, algorithmId);
        $.submitted[requestId][algorithmId] = true;
        ++r.submissionCount;
        emit RequestSubmission(requestId, algorithmId, msg.sender);
    }

    /// @inheritdoc IAlgorithmMarketplace
    function acceptSubmission(uint256 requestId, uint256 algorithmId) external nonReentrant {
        AlgorithmMarketplaceStorage storage $ = _getAlgorithmMarketplaceStorage();
        Request storage r = _openRequest($, requestId);
        if (msg.sender != r.customer) revert MarketplaceNotRequestCustomer(requestId, msg.sender);
        if (block.timestamp > r.deadline) revert MarketplaceRequestDeadlinePassed(requestId, r.deadline);
        if (!$.submitted[requestId][algorithmId]) revert MarketplaceNotSubmitted(requestId, algorithmId);
        uint256 bounty = r.bounty;
        address developer = $.algorithms[algorithmId].developer;
        uint256 fee = (bounty * $.protocolFeeBps) / BPS;
        r.status = RequestStatus.Accepted;
        r.acceptedAlgorithmId = algorithmId;
        $.totalEscrowed -= bounty;
        emit RequestAccepted(requestId, algorithmId, developer, bounty - fee, fee);
        IERC20 token_ = $.token;
        token_.safeTransfer(developer, bounty - fee);
        if (fee != 0) token_.safeTransfer($.treasury, fee);
    }

    /// @inheritdoc IAlgorithmMarketplace
    function refundRequest(uint256 requestId) external nonReentrant {
        AlgorithmMarketplaceStorage storage $ = _getAlgorithmMarketplaceStorage();
        Request storage r = _openRequest($, requestId);
        if (block.timestamp <= r.deadline) revert MarketplaceRequestDeadlineNotPassed(requestId, r.deadline);
        uint256 bounty = r.bounty;
        address customer = r.customer;
        r.status = RequestStatus.Refunded;
        $.totalEscrowed -= bounty;
        emit RequestRefunded(requestId, customer, bounty);
        $.token.safeTransfer(customer, bounty);
    }

    /// @inheritdoc IAlgorithmMarketplace
    function cancelRequest(uint256 requestId) external nonReentrant {
        AlgorithmMarketplaceStorage storage $ = _getAlgorithmMarketplaceStorage();
        Request storage r = _openRequest($, requestId);
        if (msg.sender != r.customer) revert MarketplaceNotRequestCustomer(requestId, msg.sender);
        if (r.submissionCount != 0) revert MarketplaceRequestHasSubmissions(requestId);
        uint256 bounty = r.bounty;
        r.status = RequestStatus.Cancelled;
        $.totalEscrowed -= bounty;
        emit RequestCancelled(requestId, msg.sender, bounty);
        $.token.safeTransfer(msg.sender, bounty);
    }

    // ------------------------------------------------------------------ governance

    /// @inheritdoc IAlgorithmMarketplace
    function setProtocolFeeBps(uint16 feeBps) external onlyGovernance {
        _setProtocolFeeBps(_getAlgorithmMarketplaceStorage(), feeBps);
    }

    /// @inheritdoc IAlgorithmMarketplace
    function setParentShareBps(uint16 shareBps) external onlyGovernance {
        _setParentShareBps(_getAlgorithmMarketplaceStorage(), shareBps);
    }

    /// @inheritdoc IAlgorithmMarketplace
    function setTreasury(address treasury_) external onlyGovernance {
        if (treasury_ == address(0)) revert GovernedZeroAddress();
        _setTreasury(_getAlgorithmMarketplaceStorage(), treasury_);
    }

    /// @inheritdoc IAlgorithmMarketplace
    function setPublisher(address publisher, bool allowed) external onlyGovernance {
        if (publisher == address(0)) revert GovernedZeroAddress();
        _getAlgorithmMarketplaceStorage().publishers[publisher] = allowed;
        emit PublisherSet(publisher, allowed);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IAlgorithmMarketplace
    function getAlgorithm(uint256 algorithmId) external view returns (Algorithm memory) {
        return _algorithm(_getAlgorithmMarketplaceStorage(), algorithmId);
    }

    /// @inheritdoc IAlgorithmMarketplace
    function revenueSplit(
        uint256 algorithmId,
        uint256 amount
    )
        external
        view
        returns (address developer, uint256 devAmount, address parentDev, uint256 parentAmount, uint256 fee)
    {
        AlgorithmMarketplaceStorage storage $ = _getAlgorithmMarketplaceStorage();
        Algorithm storage a = _algorithm($, algorithmId);
        developer = a.developer;
        (devAmount, parentDev, parentAmount, fee) = _split($, a, amount);
    }

    /// @inheritdoc IAlgorithmMarketplace
    function useTerms(
        uint256 algorithmId,
        address customer
    ) external view returns (bool listed, bytes32 schema, uint256 usePriceDue) {
        AlgorithmMarketplaceStorage storage $ = _getAlgorithmMarketplaceStorage();
        if (algorithmId == 0 || algorithmId > $.algorithmCount) return (false, bytes32(0), 0);
        Algorithm storage a = $.algorithms[algorithmId];
        listed = !a.deprecated;
        schema = a.schema;
        if (!$.licences[customer][algorithmId]) usePriceDue = a.usePrice;
    }

    /// @inheritdoc IAlgorithmMarketplace
    function developerOf(uint256 algorithmId) external view returns (address) {
        return _algorithm(_getAlgorithmMarketplaceStorage(), algorithmId).developer;
    }

    /// @inheritdoc IAlgorithmMarketplace
    function isListed(uint256 algorithmId) external view returns (bool) {
        AlgorithmMarketplaceStorage storage $ = _getAlgorithmMarketplaceStorage();
        return algorithmId != 0 && algorithmId <= $.algorithmCount && !$.algorithms[algorithmId].deprecated;
    }

    /// @inheritdoc IAlgorithmMarketplace
    function hasLicence(address customer, uint256 algorithmId) external view returns (bool) {
        return _getAlgorithmMarketplaceStorage().licences[customer][algorithmId];
    }

    /// @inheritdoc IAlgorithmMarketplace
    function getRequest(uint256 requestId) external view returns (Request memory) {
        AlgorithmMarketplaceStorage storage $ = _getAlgorithmMarketplaceStorage();
        if (requestId == 0 || requestId > $.requestCount) revert MarketplaceUnknownRequest(requestId);
        return $.requests[requestId];
    }

    /// @inheritdoc IAlgorithmMarketplace
    function isSubmitted(uint256 requestId, uint256 algorithmId) external view returns (bool) {
        return _getAlgorithmMarketplaceStorage().submitted[requestId][algorithmId];
    }

    /// @inheritdoc IAlgorithmMarketplace
    function algorithmCount() external view returns (uint256) {
        return _getAlgorithmMarketplaceStorage().algorithmCount;
    }

    /// @inheritdoc IAlgorithmMarketplace
    function requestCount() external view returns (uint256) {
        return _getAlgorithmMarketplaceStorage().requestCount;
    }

    /// @inheritdoc IAlgorithmMarketplace
    function token() external view returns (address) {
        return address(_getAlgorithmMarketplaceStorage().token);
    }

    /// @inheritdoc IAlgorithmMarketplace
    function treasury() external view returns (address) {
        return _getAlgorithmMarketplaceStorage().treasury;
    }

    /// @inheritdoc IAlgorithmMarketplace
    function protocolFeeBps() external view returns (uint16) {
        return _getAlgorithmMarketplaceStorage().protocolFeeBps;
    }

    /// @inheritdoc IAlgorithmMarketplace
    function parentShareBps() external view returns (uint16) {
        return _getAlgorithmMarketplaceStorage().parentShareBps;
    }

    /// @inheritdoc IAlgorithmMarketplace
    function isPublisher(address publisher) external view returns (bool) {
        return _getAlgorithmMarketplaceStorage().publishers[publisher];
    }

    /// @inheritdoc IAlgorithmMarketplace
    function totalEscrowed() external view returns (uint256) {
        return _getAlgorithmMarketplaceStorage().totalEscrowed;
    }

    /// @inheritdoc IAlgorithmMarketplace
    function quoteSplit(
        uint256 algorithmId,
        uint256 amount
    ) external view returns (uint256 developerAmount, uint256 parentAmount, uint256 protocolFee) {
        AlgorithmMarketplaceStorage storage $ = _getAlgorithmMarketplaceStorage();
        (developerAmount, , parentAmount, protocolFee) = _split($, _algorithm($, algorithmId), amount);
    }

    // ------------------------------------------------------------------ internals

    function _list(
        AlgorithmMarketplaceStorage storage $,
        Algorithm memory a
    ) private returns (uint256 algorithmId) {
        _checkCid(a.packageCid, true);
        if (a.modelSha256 == bytes32(0)) revert MarketplaceZeroModelHash();
        algorithmId = ++$.algorithmCount;
        $.algorithms[algorithmId] = a;
        emit AlgorithmListed(
            algorithmId,
            a.developer,
            a.parentId,
            a.schema,
            a.modelSha256,
            a.packageCid,
            a.metadataCid,
            a.usePrice,
            a.licencePrice
        );
    }

    /// @dev Pulls `amount` from `from` straight to the developer, parent developer and treasury.
    function _collect(
        AlgorithmMarketplaceStorage storage $,
        Algorithm storage a,
        uint256 algorithmId,
        address from,
        uint256 amount
    ) private {
        (uint256 devAmount, address parentDev, uint256 parentAmount, uint256 fee) = _split($, a, amount);
        address developer = a.developer;
        emit RevenueSplit(algorithmId, developer, devAmount, parentDev, parentAmount, fee);
        IERC20 token_ = $.token;
        if (devAmount != 0) token_.safeTransferFrom(from, developer, devAmount);
        if (parentAmount != 0) token_.safeTransferFrom(from, parentDev, parentAmount);
        if (fee != 0) token_.safeTransferFrom(from, $.treasury, fee);
    }

    /// @dev fee = amount * feeBps; the parent's developer gets parentShareBps of the rest unless the parent
    ///      belongs to the same developer (an own version); the developer gets what remains.
    function _split(
        AlgorithmMarketplaceStorage storage $,
        Algorithm storage a,
        uint256 amount
    ) private view returns (uint256 devAmount, address parentDev, uint256 parentAmount, uint256 fee) {
        fee = (amount * $.protocolFeeBps) / BPS;
        uint256 rest = amount - fee;
        uint256 parentId = a.parentId;
        if (parentId != 0) {
            parentDev = $.algorithms[parentId].developer;
            if (parentDev != a.developer) {
                parentAmount = (rest * $.parentShareBps) / BPS;
            } else {
                parentDev = address(0);
            }
        }
        devAmount = rest - parentAmount;
    }

    function _algorithm(
        AlgorithmMarketplaceStorage storage $,
        uint256 algorithmId
    ) private view returns (Algorithm storage) {
        if (algorithmId == 0 || algorithmId > $.algorithmCount)
            revert MarketplaceUnknownAlgorithm(algorithmId);
        return $.algorithms[algorithmId];
    }

    function _ownListedAlgorithm(uint256 algorithmId) private view returns (Algorithm storage a) {
        a = _algorithm(_getAlgorithmMarketplaceStorage(), algorithmId);
        if (a.developer != msg.sender) revert MarketplaceNotDeveloper(algorithmId, msg.sender);
        if (a.deprecated) revert MarketplaceAlgorithmDeprecated(algorithmId);
    }

    function _openRequest(
        AlgorithmMarketplaceStorage storage $,
        uint256 requestId
    ) private view returns (Request storage r) {
        if (requestId == 0 || requestId > $.requestCount) revert MarketplaceUnknownRequest(requestId);
        r = $.requests[requestId];
        if (r.status != RequestStatus.Open) revert MarketplaceRequestNotOpen(requestId, r.status);
    }

    function _checkCid(string memory cid, bool required) private pure {
        uint256 len = bytes(cid).length;
        if ((required && len == 0) || len > MAX_CID_LENGTH) revert MarketplaceInvalidCid();
    }

    function _setProtocolFeeBps(AlgorithmMarketplaceStorage storage $, uint16 feeBps) private {
        if (feeBps > MAX_PROTOCOL_FEE_BPS) revert MarketplaceFeeTooHigh(feeBps, MAX_PROTOCOL_FEE_BPS);
        emit ProtocolFeeUpdated($.protocolFeeBps, feeBps);
        $.protocolFeeBps = feeBps;
    }

    function _setParentShareBps(AlgorithmMarketplaceStorage storage $, uint16 shareBps) private {
        if (shareBps > MAX_PARENT_SHARE_BPS)
            revert MarketplaceParentShareTooHigh(shareBps, MAX_PARENT_SHARE_BPS);
        emit ParentShareUpdated($.parentShareBps, shareBps);
        $.parentShareBps = shareBps;
    }

    function _setTreasury(AlgorithmMarketplaceStorage storage $, address treasury_) private {
        emit TreasuryUpdated($.treasury, treasury_);
        $.treasury = treasury_;
    }

    function _getAlgorithmMarketplaceStorage() private pure returns (AlgorithmMarketplaceStorage storage $) {
        assembly {
            $.slot := ALGORITHM_MARKETPLACE_STORAGE_LOCATION
        }
    }
}
