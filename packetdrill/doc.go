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
// suite's scripts assume (buffer sizes, window scale, MSS); it configures
// the target and never loosens what a script checks. Main is the
// command-line entry point behind "tundra packetdrill".
package packetdrill
