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
}
