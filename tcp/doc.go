// Package tcp is tundra's Transmission Control Protocol (RFC 9293): the
// wire format of segments and the per-connection state machine, with no I/O.
//
// The package has two halves.
//
// The wire half is views over bytes. ParseHeader checks a segment's lengths
// once and returns a Header whose accessors cannot fail; ParseOptions
// decodes the options into a fixed-size Options value; HeaderFields builds a
// header, and Checksum/SetChecksum compute the checksum over the IPv4
// pseudo-header. Seq is a sequence number with wraparound-safe comparisons
// (RFC 9293 section 3.4). None of this allocates.
//
// The connection half, Conn, is sans-I/O: it never blocks, never starts a
// goroutine and never reads a clock. The stack above it hands it inbound
// segments and user calls together with the current time, and it answers by
// calling Output.SendSegment and by reporting, through Deadline, the next
// time it wants HandleTimer to be called.
package tcp
