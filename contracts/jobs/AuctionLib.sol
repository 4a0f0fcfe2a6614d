// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title AuctionLib
/// @notice In-memory top-K selection for the uniform second-price priority auction.
library AuctionLib {
    /// @notice Selects the top `k + 1` revealed bids in bid order (highest first; ties: lower index first).
    /// @param bids Bid of every commitment, in commit order.
    /// @param revealed Whether each commitment was revealed (unrevealed ones never win).
    /// @param k Capacity.
    /// @return top Indices into `bids` of the best `min(k + 1, revealedCount)` bids, best first.
    /// @return topLen Number of valid entries in `top`.
    /// @return revealedCount Number of revealed commitments.
    function selectTop(
        uint256[] memory bids,
        bool[] memory revealed,
        uint256 k
    ) internal pure returns (uint256[] memory top, uint256 topLen, uint256 revealedCount) {
        top = new uint256[](k + 1);
        uint256 n = bids.length;
        for (uint256 i = 0; i < n; ++i) {
            if (!revealed[i]) continue;
            ++revealedCount;
            uint256 bid = bids[i];
            uint256 pos;
            if (topLen <= k) {
                pos = topLen;
                ++topLen;
            } else if (bid > bids[top[k]]) {
                pos = k;
            } else {
                continue;
            }
            // Insertion: strictly greater bids move ahead, so equal bids keep commit order.
            while (pos > 0 && bids[top[pos - 1]] < bid) {
                top[pos] = top[pos - 1];
                --pos;
            }
            top[pos] = i;
        }
    }

    /// @notice The uniform clearing price: the (k+1)-th highest revealed bid, or `reserve` when fewer than
    ///         k + 1 bids were revealed.
    function clearingPrice(
        uint256[] memory bids,
        uint256[] memory top,
        uint256 topLen,
        uint256 k,
        uint256 reserve
    ) internal pure returns (uint256) {
        return topLen > k ? bids[top[k]] : reserve;
    }
}
