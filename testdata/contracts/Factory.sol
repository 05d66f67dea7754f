// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
import "./Flipper.sol";
interface IToken {
    function transfer(address to, uint256 value) external returns (bool);
    function balanceOf(address who) external view returns (uint256);
}
contract Factory {
    Flipper public last;
    event Created(address child);
    function create(bool init) public returns (address) {
        last = new Flipper(init);
        emit Created(address(last));
        return address(last);
    }
    function flipLast() public returns (bool) { last.flip(); return last.get(); }
    function tokenBalance(address token, address who) public view returns (uint256) {
        return IToken(token).balanceOf(who);
    }
    function tryTransfer(address token, address to, uint256 value) public returns (bool ok, bytes memory reason) {
        try IToken(token).transfer(to, value) returns (bool r) { return (r, ""); }
        catch (bytes memory err) { return (false, err); }
    }
}
