// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IAlgorithmMarketplace
/// @notice Developers list algorithms (IPFS packages with an ONNX model); customers buy licences or pay per
///         use; tailor-made requests escrow bounties; fine-tuned versions are children sharing revenue.
/// @dev Cross-contract surface used by JobMarket and FineTuning: `Algorithm`, `getAlgorithm`, `isListed`,
///      `hasLicence`, `publishChildVersion`, `payUse`. Keep these signatures stable; add the rest
///      (errors, events, listing/licence/request functions) below them.
interface IAlgorithmMarketplace {
    /// @notice A listed algorithm version.
    struct Algorithm {
        address developer; // receives sales, less protocol fee and parent share
        uint256 parentId; // 0 for an original
        bytes32 schema; // dataset schema id, e.g. keccak256("email/rfc822-v1")
        bytes32 modelSha256; // sha256 of model.onnx in the package
        string packageCid; // IPFS directory CID holding manifest.json and model.onnx
        string metadataCid; // optional extra metadata (may be empty)
        uint256 usePrice; // price per prediction job (token wei)
        uint256 licencePrice; // price of a perpetual licence (token wei); 0 = licences not sold
        bool deprecated;
    }

    /// @notice The algorithm with id `algorithmId` (ids start at 1). Reverts for an unknown id.
    function getAlgorithm(uint256 algorithmId) external view returns (Algorithm memory);

    /// @notice True when `algorithmId` exists and is not deprecated.
    function isListed(uint256 algorithmId) external view returns (bool);

    /// @notice What a job needs of an algorithm in one call: whether it is listed (exists, not deprecated), its
    ///         schema, and the per-use price `customer` owes (0 with a licence). Never reverts.
    function useTerms(
        uint256 algorithmId,
        address customer
    ) external view returns (bool listed, bytes32 schema, uint256 usePriceDue);

    /// @notice The developer of `algorithmId` (receives its royalties). Reverts for an unknown id.
    function developerOf(uint256 algorithmId) external view returns (address);

    /// @notice How `amount` of revenue of `algorithmId` is shared, exactly as licence and use payments are: the
    ///         protocol fee first, then the parent version's developer's share of the rest (none for an own
    ///         version), then the developer. Settlement pays job royalties with it. Reverts for an unknown id.
    function revenueSplit(
        uint256 algorithmId,
        uint256 amount
    )
        external
        view
        returns (address developer, uint256 devAmount, address parentDev, uint256 parentAmount, uint256 fee);

    /// @notice True when `customer` holds a licence for `algorithmId`.
    function hasLicence(address customer, uint256 algorithmId) external view returns (bool);

    /// @notice Pays the per-use price of `algorithmId` from the caller's allowance (`payer` is who the use is
    ///         recorded for); splits developer / parent developer / protocol fee exactly like a licence sale.
    /// @dev Called by JobMarket when a job is created without a licence; the JobMarket pulls the price from
    ///      the customer first and this function pulls it from the JobMarket.
    function payUse(uint256 algorithmId, address payer) external;

    /// @notice Publishes a child version of `parentId` with the same schema and prices, developer
    ///         `developer`. Only callable by an authorised publisher (the FineTuning contract).
    /// @return childId The new algorithm id.
    function publishChildVersion(
        uint256 parentId,
        address developer,
        string calldata packageCid,
        bytes32 modelSha256
    ) external returns (uint256 childId);

    // ---------------------------------------------------------------------------------------------
    // Listing, licences, requests, governance (added below the stable cross-contract surface)
    // ---------------------------------------------------------------------------------------------

    /// @notice Lifecycle of a tailor-made request. `Accepted`, `Refunded` and `Cancelled` are terminal.
    enum RequestStatus {
        None,
        Open,
        Accepted,
        Refunded,
        Cancelled
    }

    /// @notice A tailor-made request: a customer escrows a bounty for an algorithm serving `schema`.
    struct Request {
        address customer; // who posted it, accepts a submission and receives a refund
        uint64 deadline; // submissions and acceptance allowed while block.timestamp <= deadline
        RequestStatus status;
        bytes32 schema; // dataset schema the algorithm must serve
        uint256 bounty; // escrowed in this contract while Open
        uint256 acceptedAlgorithmId; // 0 until accepted
        uint32 submissionCount; // number of algorithms submitted
        string specCid; // IPFS CID of the request specification
    }

    /// @notice The algorithm id does not exist.
    error MarketplaceUnknownAlgorithm(uint256 algorithmId);
    /// @notice A CID is empty (where required) or longer than `MAX_CID_LENGTH` bytes.
    error MarketplaceInvalidCid();
    /// @notice The model sha256 is zero.
    error MarketplaceZeroModelHash();
    /// @notice The dataset schema id is zero.
    error MarketplaceZeroSchema();
    /// @notice The caller is not the developer of `algorithmId`.
    error MarketplaceNotDeveloper(uint256 algorithmId, address caller);
    /// @notice The algorithm is deprecated: no new licences, uses or request submissions.
    error MarketplaceAlgorithmDeprecated(uint256 algorithmId);
    /// @notice The algorithm's licence price is zero: licences are not sold.
    error MarketplaceLicenceNotForSale(uint256 algorithmId);
    /// @notice The customer already holds a licence for the algorithm.
    error MarketplaceAlreadyLicensed(address customer, uint256 algorithmId);
    /// @notice The current price is above the buyer's `maxPrice` (e.g. the developer raised it).
    error MarketplacePriceAboveMax(uint256 price, uint256 maxPrice);
    /// @notice A protocol fee above `MAX_PROTOCOL_FEE_BPS`.
    error MarketplaceFeeTooHigh(uint256 feeBps, uint256 maxBps);
    /// @notice A parent share above `MAX_PARENT_SHARE_BPS`.
    error MarketplaceParentShareTooHigh(uint256 shareBps, uint256 maxBps);
    /// @notice The caller is not an authorised publisher of child versions.
    error MarketplaceNotPublisher(address caller);
    /// @notice A child listing's schema differs from its parent's.
    error MarketplaceSchemaMismatch(bytes32 expected, bytes32 actual);
    /// @notice The request id does not exist.
    error MarketplaceUnknownRequest(uint256 requestId);
    /// @notice The request is not open (already accepted, refunded or cancelled).
    error MarketplaceRequestNotOpen(uint256 requestId, RequestStatus status);
    /// @notice The request's deadline has passed (submit / accept).
    error MarketplaceRequestDeadlinePassed(uint256 requestId, uint256 deadline);
    /// @notice The request's deadline has not passed yet (refund).
    error MarketplaceRequestDeadlineNotPassed(uint256 requestId, uint256 deadline);
    /// @notice A request deadline in the past or more than `MAX_REQUEST_DURATION` ahead.
    error MarketplaceInvalidDeadline(uint256 deadline);
    /// @notice A request bounty of zero.
    error MarketplaceZeroBounty();
    /// @notice The caller is not the request's customer.
    error MarketplaceNotRequestCustomer(uint256 requestId, address caller);
    /// @notice The algorithm was already submitted to the request.
    error MarketplaceAlreadySubmitted(uint256 requestId, uint256 algorithmId);
    /// @notice The algorithm was not submitted to the request.
    error MarketplaceNotSubmitted(uint256 requestId, uint256 algorithmId);
    /// @notice The request has submissions, so the customer can no longer cancel it (wait for the deadline).
    error MarketplaceRequestHasSubmissions(uint256 requestId);

    /// @notice A new algorithm (original, version or child) was listed.
    event AlgorithmListed(
        uint256 indexed algorithmId,
        address indexed developer,
        uint256 indexed parentId,
        bytes32 schema,
        bytes32 modelSha256,
        string packageCid,
        string metadataCid,
        uint256 usePrice,
        uint256 licencePrice
    );
    /// @notice A developer changed the prices of an algorithm.
    event AlgorithmPricesUpdated(uint256 indexed algorithmId, uint256 usePrice, uint256 licencePrice);
    /// @notice A developer deprecated an algorithm (irreversible).
    event AlgorithmDeprecated(uint256 indexed algorithmId);
    /// @notice An authorised publisher published a child version (emitted after `AlgorithmListed`).
    event ChildVersionPublished(uint256 indexed parentId, uint256 indexed childId, address indexed publisher);
    /// @notice A licence was sold.
    event LicencePurchased(uint256 indexed algorithmId, address indexed customer, uint256 price);
    /// @notice A per-use price was paid by `caller` for `payer`.
    event UsePaid(uint256 indexed algorithmId, address indexed payer, address indexed caller, uint256 price);
    /// @notice How a payment was split (emitted for every licence sale, use payment and accepted bounty).
    event RevenueSplit(
        uint256 indexed algorithmId,
        address indexed developer,
        uint256 developerAmount,
        address parentDeveloper,
        uint256 parentAmount,
        uint256 protocolFee
    );
    /// @notice A tailor-made request was posted and its bounty escrowed.
    event RequestPosted(
        uint256 indexed requestId,
        address indexed customer,
        bytes32 indexed schema,
        uint256 bounty,
        uint64 deadline,
        string specCid
    );
    /// @notice A developer submitted one of their algorithms to a request.
    event RequestSubmission(
        uint256 indexed requestId,
        uint256 indexed algorithmId,
        address indexed developer
    );
    /// @notice The customer accepted a submission; the bounty went to its developer less the protocol fee.
    event RequestAccepted(
        uint256 indexed requestId,
        uint256 indexed algorithmId,
        address indexed developer,
        uint256 developerAmount,
        uint256 protocolFee
    );
    /// @notice The deadline passed without acceptance; the bounty went back to the customer.
    event RequestRefunded(uint256 indexed requestId, address indexed customer, uint256 bounty);
    /// @notice The customer cancelled a request without submissions; the bounty went back.
    event RequestCancelled(uint256 indexed requestId, address indexed customer, uint256 bounty);
    /// @notice Governance changed the protocol fee.
    event ProtocolFeeUpdated(uint16 previousBps, uint16 newBps);
    /// @notice Governance changed the parent share.
    event ParentShareUpdated(uint16 previousBps, uint16 newBps);
    /// @notice Governance changed the treasury.
    event TreasuryUpdated(address indexed previousTreasury, address indexed newTreasury);
    /// @notice Governance authorised or revoked a child-version publisher.
    event PublisherSet(address indexed publisher, bool allowed);

    /// @notice Lists a new algorithm owned by the caller. A non-zero `parentId` must exist and have the same
    ///         schema; a listing whose parent belongs to the caller is a new version of their own algorithm.
    /// @param packageCid IPFS directory CID (non-empty, at most `MAX_CID_LENGTH` bytes).
    /// @param modelSha256 sha256 of `model.onnx` (non-zero).
    /// @param schema Dataset schema id (non-zero).
    /// @param usePrice Price per use (may be zero: free use).
    /// @param licencePrice Licence price (zero: licences not sold).
    /// @param parentId 0 for an original, else the parent version.
    /// @param metadataCid Optional metadata CID (empty or at most `MAX_CID_LENGTH` bytes).
    /// @return algorithmId The new id (ids start at 1).
    function list(
        string calldata packageCid,
        bytes32 modelSha256,
        bytes32 schema,
        uint256 usePrice,
        uint256 licencePrice,
        uint256 parentId,
        string calldata metadataCid
    ) external returns (uint256 algorithmId);

    /// @notice Changes the prices of the caller's algorithm (not deprecated).
    function updatePrices(uint256 algorithmId, uint256 usePrice, uint256 licencePrice) external;

    /// @notice Deprecates the caller's algorithm: no new licences, uses or submissions. Existing licences stay.
    function deprecate(uint256 algorithmId) external;

    /// @notice Buys a perpetual licence at the current licence price, reverting if it exceeds `maxPrice`.
    function buyLicence(uint256 algorithmId, uint256 maxPrice) external;

    /// @notice Posts a tailor-made request and escrows `bounty` from the caller.
    /// @return requestId The new request id (ids start at 1).
    function postRequest(
        string calldata specCid,
        bytes32 schema,
        uint256 bounty,
        uint64 deadline
    ) external returns (uint256 requestId);

    /// @notice Submits the caller's listed algorithm (same schema) to an open request before its deadline.
    function submitToRequest(uint256 requestId, uint256 algorithmId) external;

    /// @notice The customer accepts a submission before the deadline; pays the bounty to its developer
    ///         less the protocol fee.
    function acceptSubmission(uint256 requestId, uint256 algorithmId) external;

    /// @notice After the deadline of an open request, refunds the bounty to its customer. Callable by anyone.
    function refundRequest(uint256 requestId) external;

    /// @notice The customer cancels an open request that has no submission yet, recovering the bounty.
    function cancelRequest(uint256 requestId) external;

    /// @notice Sets the protocol fee (at most `MAX_PROTOCOL_FEE_BPS`). Governance only.
    function setProtocolFeeBps(uint16 feeBps) external;

    /// @notice Sets the parent developer's share of a child's revenue after the fee (at most
    ///         `MAX_PARENT_SHARE_BPS`). Governance only.
    function setParentShareBps(uint16 shareBps) external;

    /// @notice Sets the protocol-fee recipient. Governance only.
    function setTreasury(address treasury) external;

    /// @notice Authorises or revokes a child-version publisher (the FineTuning contract). Governance only.
    function setPublisher(address publisher, bool allowed) external;

    /// @notice The request with id `requestId`. Reverts for an unknown id.
    function getRequest(uint256 requestId) external view returns (Request memory);

    /// @notice True when `algorithmId` was submitted to `requestId`.
    function isSubmitted(uint256 requestId, uint256 algorithmId) external view returns (bool);

    /// @notice Number of algorithms listed so far (the highest id).
    function algorithmCount() external view returns (uint256);

    /// @notice Number of requests posted so far (the highest id).
    function requestCount() external view returns (uint256);

    /// @notice The payment token (DML).
    function token() external view returns (address);

    /// @notice The protocol-fee recipient.
    function treasury() external view returns (address);

    /// @notice Protocol fee in basis points.
    function protocolFeeBps() external view returns (uint16);

    /// @notice Parent developer's share (bps) of a child version's revenue after the protocol fee.
    function parentShareBps() external view returns (uint16);

    /// @notice True when `publisher` may call `publishChildVersion`.
    function isPublisher(address publisher) external view returns (bool);

    /// @notice Sum of bounties escrowed by open requests.
    function totalEscrowed() external view returns (uint256);

    /// @notice How `amount` paid for `algorithmId` splits now.
    /// @return developerAmount To the algorithm's developer.
    /// @return parentAmount To the parent's developer (0 for an original or an own version).
    /// @return protocolFee To the treasury.
    function quoteSplit(
        uint256 algorithmId,
        uint256 amount
    ) external view returns (uint256 developerAmount, uint256 parentAmount, uint256 protocolFee);
}
