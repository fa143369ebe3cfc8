// Package tcp is tundra's Transmission Control Protocol (RFC 9293): the
// wire format of segments and the per-connection state machine, with no
// I/O of its own. Package stack feeds it segments from the network and
// calls from sockets; this package decides what TCP says back.
//
// # The wire half
//
// Segments are views over bytes (header.go, options.go). ParseHeader checks
// a segment's lengths once and returns a Header whose accessors cannot fail;
// ParseOptions decodes the options into a fixed-size Options value (SACK
// blocks in an array), so parsing never allocates. HeaderFields is the
// builder: Encode writes a header, Checksum and SetChecksum compute the
// checksum over the IPv4 pseudo-header. Seq (seqnum.go) is a sequence
// number with wraparound-safe comparisons (RFC 9293 section 3.4, RFC 1982):
// always compare sequence numbers with its methods, never with <.
//
// # The connection half
//
// Conn (conn.go) is one connection's transmission control block. It is
// sans-I/O: it never blocks, never starts a goroutine and never reads a
// clock. Every method takes the current time as an argument and answers by
// calling Output.SendSegment (the stack wraps the segment in IPv4 and sends
// it) and by changing what Deadline reports.
//
// Where to find things, in the order a connection lives:
//
//   - Opening. Connect (conn.go) is the active open: it sends the SYN.
//     Listen and AcceptSyn are the passive open. The three-way handshake
//     (RFC 9293 Figure 6) continues in input.go: segmentInListen answers a
//     SYN with SYN+ACK, segmentInSynSent answers the SYN+ACK with an ACK,
//     and processAck completes the handshake in SYN-RECEIVED.
//   - Segment arrival. HandleSegment (input.go) is RFC 9293 section 3.10.7
//     ("SEGMENT ARRIVES"), step by step, with the RFC's words in the
//     comments: segmentInClosed (3.10.7.1), segmentInListen (3.10.7.2),
//     segmentInSynSent (3.10.7.3), and segmentInSynchronized (3.10.7.4),
//     whose sections are headed "First, check sequence number", "Second,
//     check the RST bit", and so on to "Eighth, check the FIN bit".
//   - Sending. output.go decides what may be sent: the peer's window, the
//     congestion window, Nagle and sender SWS avoidance. The window comes
//     from a CongestionControl (congestion.go, cubic.go): CUBIC (RFC 9438)
//     with HyStart++ (RFC 9406) by default, or NewReno (RFC 5681), both
//     starting from the IW10 of RFC 6928; a student can plug in another in
//     one file with RegisterCongestionControl. Data is never copied on the
//     way out: Output receives slices of the send ring, up to 64 KB per
//     segment when the link offers segmentation offload
//     (Config.GSOMaxSize).
//   - Congestion signals. With ECN (RFC 3168, ecn.go; Config.ECN) a
//     router marks a packet instead of dropping it: new data goes out as
//     ECT(0), while SYNs, pure ACKs, retransmissions and window probes
//     stay Not-ECT (6.1.1, 6.1.4 - 6.1.6); the receiver echoes a CE mark
//     with ECE until the sender's CWR, and the sender halves its window
//     once per window of data.
//   - Losing. recovery.go finds and resends lost data. With a peer that
//     does SACK (RFC 2018) a scoreboard (scoreboard.go) records each
//     segment in flight: when it was sent, whether the peer SACKed it,
//     whether it is lost. RACK-TLP (rack.go, RFC 8985) marks segments lost
//     by time, which also finds lost retransmissions, and sends a tail loss
//     probe instead of waiting for the timeout; the recovery loop of RFC
//     6675 (pipe, NextSeg) resends only what is lost, also after a timeout.
//     D-SACK (RFC 2883) reports spurious resends and widens RACK's
//     reordering window. Without SACK it does fast retransmit, Limited
//     Transmit (RFC 3042) and NewReno recovery (RFC 6582).
//   - Receiving. In-order data goes into a ring buffer; out-of-order data
//     is written straight to its final place in the same ring and tracked
//     by a fixed table of ranges (ring.go), up to Config.ReassemblyLimit
//     bytes, and reported to the peer in SACK blocks, most recent first
//     (sack.go). The advertised window follows receiver SWS avoidance and
//     never shrinks; auto-tuning (autotune.go) lets it grow from
//     Config.ReceiveBufferMin to ReceiveBufferSize as fast as the
//     application reads.
//   - Timestamps (RFC 7323, sack.go and input.go): an RTT sample from
//     every ACK, and PAWS, which drops old duplicates whose sequence
//     numbers look new.
//   - Attacks. RFC 5961: a RST must hit RCV.NXT exactly, other in-window
//     RSTs and any SYN draw a rate-limited challenge ACK, and ACKs far
//     below SND.UNA are dropped (Config.RSTInWindowResets,
//     SYNInWindowResets and NoACKRangeCheck restore RFC 793 each).
//   - Choices. Where RFC 9293 leaves a choice the defaults follow Linux;
//     Config.RepeatFIN, ProcessOldACKs, ReceiveWindowFromBuffer,
//     DropSYNFIN and RTOSlop select 4.4BSD's (FreeBSD's) instead, each
//     documented with the RFC text that allows both.
//     Under a SYN flood the stack answers with SYN cookies (RFC 4987):
//     CookieSYNACK builds the stateless SYN+ACK, NewConnFromCookie the
//     connection its ACK completes (cookie.go); window scale, SACK and
//     ECN survive in the TSval when the peer uses timestamps.
//   - Closing. Close and Shutdown (conn.go) queue our FIN; the FIN-WAIT,
//     CLOSING, LAST-ACK and TIME-WAIT states are handled in processAck and
//     processTextAndFIN (input.go). Abort sends a RST.
//
// # Timers without a clock
//
// The Conn keeps each timer (retransmission, persist, delayed ACK,
// keepalive, FIN-WAIT-2, TIME-WAIT) as the time it falls due. After any call
// the owner asks Deadline for the earliest one and calls HandleTimer
// (timers.go) when that time has come, with the time it is. The stack does
// this with its Clock; the tests do it with a virtual "now", which is why
// every timer in this package can be tested exactly, step by step, without
// sleeping.
//
// # Observing
//
// An Observer hears every state transition with its cause, every segment
// sent and received, and which segments were retransmissions: enough to
// draw the textbook ladder (see the Conn example). Stats gives the numbers
// `ss -ti` would show. Transitions lists every arrow of the state diagram
// (RFC 9293 Figure 5 plus resets and timeouts); the tests check each one.
//
// # Not yet here
//
// Data in a SYN received in LISTEN is dropped (the peer sends it again);
// in SYN-SENT it is kept until the connection is established. Urgent data
// is not supported (RFC 6093).
package tcp
