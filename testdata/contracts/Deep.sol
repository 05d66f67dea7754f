// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
// Calls itself to probe the call-depth limit (pallet-revive: 25 frames below the outermost).
contract Deep {
    // Calls itself `levels` times below this frame; returns how many frames ran. Reverts when a
    // call is refused for depth.
    function down(uint256 levels) public returns (uint256) {
        if (levels == 0) return 1;
        return Deep(address(this)).down(levels - 1) + 1;
    }
    // Like `down`, but a frame whose call fails catches the failure and stops there: returns
    // how many frames returned.
    function probe(uint256 levels) public returns (uint256) {
        if (levels == 0) return 1;
        try Deep(address(this)).probe(levels - 1) returns (uint256 frames) { return frames + 1; }
        catch { return 1; }
    }
}
