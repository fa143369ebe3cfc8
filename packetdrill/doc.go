// Package packetdrill runs packetdrill scripts against a TCP stack.
//
// packetdrill (github.com/google/packetdrill) tests a TCP implementation
// from the outside: a script says which packets arrive at what time, which
// socket calls the application makes and what they return, and which
// packets the stack must send in answer, with their flags, sequence and
// acknowledgment numbers, windows and options. This package reads that
// script language (Parse, ParseFile) into a Script of timed Events, and
// runs a Script (Run) against a Target: an in-memory stack driven by a
// virtual clock, which the runner feeds inbound packets and socket calls
// and whose outbound packets it matches against the script. Nothing here
// touches a real network. A Profile states the FreeBSD defaults the
// suite's scripts assume (buffer sizes, window scale, MSS), or, with
// Tundra, asks the target for its own defaults (for scripts written for
// them); it configures the target and never loosens what a script
// checks. CLI.Main is the command-line entry point behind "tundra
// packetdrill".
//
// # A script
//
//	--tolerance_usecs=50000
//	0    socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
//	+0   connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
//	+0   > S 0:0(0) win 65535 <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0>
//	+0.1 < S. 0:0(0) ack 1 win 32767 <mss 1460,sackOK,eol,eol>
//	+0   > . 1:1(0) ack 1 win 65535
//
// Each line starts with a time: absolute seconds, "+" seconds after the
// previous event, "*" for any time, or a range "a~b". "<" lines are built
// and injected; ">" lines must be sent by the stack within the tolerance.
// Sequence numbers count from each side's initial sequence number, so
// "1:1001(1000)" is the first 1000 bytes after the SYN.
//
// # Where the runner differs from packetdrill
//
// Time is virtual: the runner advances a clock.Virtual from timer deadline
// to timer deadline, so a script that waits minutes for retransmissions
// runs in microseconds and timing is exact. A call on a blocking socket is
// kept pending and retried after every packet and clock step instead of
// running on its own thread, which makes its return time exact too.
// Addresses come from 198.18.0.0/15 (the stack 198.18.0.1, the peer
// 198.18.0.2) rather than packetdrill's 192.168.0.1 and 192.0.2.1. Shell
// lines are not run on the host: "sysctl -w" changes the Profile and
// "sockstat ... | grep -c STATE | grep N" counts the target's connections;
// other commands, and Python snippets other than tcpi_state and
// tcpi_options assertions, fail the script as unsupported. poll() follows
// the profile's kernel (Profile.PollKernel): its POLL* values and how a
// socket's readiness, a pending error included, turns into revents. The FreeBSD
// suite's "#ifdef NAME" blocks are kept or dropped by ParseOptions.Defines.
package packetdrill
