// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
contract Probe {
    address public immutable deployer;
    uint256 public immutable seed;
    event Poked(address indexed who, uint256 value, bytes32 digest);
    constructor(uint256 s) payable { deployer = msg.sender; seed = s; }
    function env() public view returns (uint256 number, uint256 time, uint256 chain, uint256 gasLimit, address origin, address self) {
        return (block.number, block.timestamp, block.chainid, block.gaslimit, tx.origin, address(this));
    }
    function balances(address who) public view returns (uint256 mine, uint256 theirs) {
        return (address(this).balance, who.balance);
    }
    function gasLeft() public view returns (uint256) { return gasleft(); }
    function hashes(bytes memory data) public pure returns (bytes32 k, bytes32 s) {
        return (keccak256(data), sha256(data));
    }
    function poke(uint256 v) public payable returns (uint256) {
        emit Poked(msg.sender, msg.value, keccak256(abi.encode(v)));
        return v + 1;
    }
    function fail(string memory why) public pure { revert(why); }
    function pay(address payable to, uint256 amount) public { to.transfer(amount); }
}
