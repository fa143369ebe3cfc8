package tcp

import "time"

// Explicit Congestion Notification, RFC 3168. Config.ECN decides whether
// a connection takes part; these functions are the TCP half of section 6.1:
// the handshake that agrees on it, the receiver that echoes a router's
// congestion mark, and the sender that slows down in answer.

// isECNSetupSYN reports whether seg is an ECN-setup SYN: SYN with ECE and
// CWR (6.1.1).
func isECNSetupSYN(seg *Segment) bool {
	return seg.Flags&(FlagSYN|FlagACK|FlagECE|FlagCWR) == FlagSYN|FlagECE|FlagCWR
}

// isECNSetupSYNACK reports whether seg is an ECN-setup SYN-ACK: SYN and
// ACK with ECE, without CWR (6.1.1: a SYN-ACK with both is not one).
func isECNSetupSYNACK(seg *Segment) bool {
	return seg.Flags&(FlagSYN|FlagACK|FlagECE|FlagCWR) == FlagSYN|FlagACK|FlagECE
}

// ecnTakeSYN decides about ECN when the peer's SYN arrives: in LISTEN,
// "If a host has received an ECN-setup SYN packet, then it MAY send an
// ECN-setup SYN-ACK packet" (6.1.1), which it does unless Config.ECN is
// ECNOff. In SYN-SENT (a simultaneous open)
// only if every SYN we sent was an ECN-setup SYN too, for "a host MUST NOT
// set ECT on data packets unless it has sent at least one ECN-setup SYN or
// ECN-setup SYN-ACK packet, and has received at least one ECN-setup SYN or
// ECN-setup SYN-ACK packet, and has sent no non-ECN-setup SYN or
// non-ECN-setup SYN-ACK packet" (6.1.1).
func (c *Conn) ecnTakeSYN(seg *Segment) {
	willing := c.cfg.ECN != ECNOff
	if c.state == SynSent {
		willing = c.ecnSetupSent
	}
	c.ecnOK = willing && isECNSetupSYN(seg)
}

// ecnTakeSYNACK decides about ECN when the SYN-ACK of our SYN arrives: ECN
// is on if every SYN we sent was an ECN-setup SYN (see ecnTakeSYN) and this
// is an ECN-setup SYN-ACK.
func (c *Conn) ecnTakeSYNACK(seg *Segment) {
	c.ecnOK = c.ecnSetupSent && isECNSetupSYNACK(seg)
}

// ecnSYNFlags returns the ECN flags of the SYN or SYN-ACK being sent: ECE
// and CWR on our SYN with ECNRequest (for the first
// Config.ECNSetupSYNRetries retransmissions too, RFC 3168 6.1.1.1), ECE on a
// SYN-ACK that agrees to the peer's request.
//
// It records in ecnSetupSent whether every SYN sent so far asked for ECN:
// once a plain SYN has gone, ECN cannot be agreed any more (6.1.1).
func (c *Conn) ecnSYNFlags() Flags {
	switch c.state {
	case SynSent:
		c.ecnSetupSent = c.cfg.ECN == ECNRequest && c.retries <= c.cfg.ECNSetupSYNRetries
		if c.ecnSetupSent {
			return FlagECE | FlagCWR
		}
	case SynReceived:
		if c.ecnOK {
			return FlagECE
		}
	}
	return 0
}

// ecnReceive is the receiver of 6.1.3 for an acceptable segment: "When TCP
// receives a CE data packet at the destination end-system, the TCP data
// receiver sets the ECN-Echo flag in the TCP header of the subsequent ACK
// packet", and keeps it set on every ACK "until it receives a CWR packet".
// A CWR and a new CE in one segment leave it set. The first CE is
// acknowledged at once, so that the sender hears of it within the round
// trip (Linux does the same).
//
// Only a data packet's CE mark counts: a pure ACK (or bare FIN) marked CE
// met congestion on the path of our data's ACKs, not of the peer's data,
// and an echo would make the peer slow its data for it; 6.1.4: "Current TCP
// receivers have no mechanisms for reducing traffic on the ACK-path in
// response to congestion notification." (Linux checks CE only on data
// too.) A compliant peer sends its pure ACKs Not-ECT anyway; one following
// later experiments (RFC 8311) may not.
func (c *Conn) ecnReceive(seg *Segment) {
	if !c.ecnOK {
		return
	}
	if seg.Flags&FlagCWR != 0 {
		c.ecnEcho = false
	}
	if seg.ECN == CE && len(seg.Payload) > 0 {
		if !c.ecnEcho {
			c.ackNow = true
		}
		c.ecnEcho = true
	}
}

// ecnReceiveWindowProbe is the receiver of 6.1.6 for a window probe: a
// segment with data at RCV.NXT while our window is zero, which is not
// acceptable (RFC 9293 3.10.7.4) and so passes no ecnReceive; "the TCP
// data receiver SHOULD ignore the ECN field on arriving data packets that
// are outside of the receiver's current window" (6.1.5), against forged
// CE marks, "However, because window probes use exact sequence numbers,
// they cannot be easily spoofed in denial-of-service attacks. Therefore,
// if a window probe arrives with the CE codepoint set, then the receiver
// SHOULD respond to the ECN indications" (6.1.6): its CE mark is echoed.
// A CWR on it is not taken: a sender "MUST NOT set ... the CWR bit on
// window probe packets".
func (c *Conn) ecnReceiveWindowProbe(seg *Segment) {
	if c.ecnOK && seg.ECN == CE {
		c.ecnEcho = true
	}
}

// ecnOnACK is the sender of 6.1.2 for an ACK with ECE: "The indication of
// congestion should be treated just as a congestion loss in non-ECN-Capable
// TCP. That is, the TCP source halves the congestion window "cwnd" and
// reduces the slow start threshold "ssthresh"", but "TCP should not react
// to congestion indications more than once every window of data": not
// during loss recovery, which has reduced the window already, nor again
// before the data in flight at the last reduction is acknowledged.
// (handleNewAck does not grow the window for an ACK with ECE.)
func (c *Conn) ecnOnACK(seg *Segment, now time.Time) {
	if !c.ecnOK || seg.Flags&FlagECE == 0 || seg.Flags&FlagSYN != 0 {
		return
	}
	if !c.inRecovery && seg.Ack.GreaterThan(c.ecnRecover) {
		c.cc.OnLoss(int(c.sndMax.Sub(c.sndUna)), now)
		c.cc.OnRecoveryEnd(now) // a reduction without retransmissions to await
		c.windowReduced()
	}
}

// windowReduced notes a reduction of the congestion window, for any reason
// (a timeout, fast retransmit or ECE): "the TCP sender sets the CWR flag in
// the TCP header of the first new data packet sent after the window
// reduction" (6.1.2), and the window in flight now counts as having
// reacted.
func (c *Conn) windowReduced() {
	c.ecnRecover = c.sndMax
	c.ecnCWRPending = c.ecnOK
}

// ecnMark sets the ECN fields of a segment that is not a SYN or RST (a SYN
// or SYN-ACK is never ECN-capable, 6.1.1: "A host MUST NOT set ECT on SYN
// or SYN-ACK packets"; nor is a RST, which carries no data). Only new data
// goes out ECT(0), with a pending CWR:
//
//   - pure ACKs, which include keepalive probes and a FIN without data,
//     are Not-ECT: "pure acknowledgement packets (e.g., packets that do
//     not contain any accompanying data) MUST be sent with the not-ECT
//     codepoint" (6.1.4);
//   - retransmissions, whether after a timeout, in fast recovery, by RACK
//     or as a tail loss probe, are Not-ECT and without CWR: "ECN-capable
//     TCP implementations MUST NOT set either ECT codepoint (ECT(0) or
//     ECT(1)) in the IP header for retransmitted data packets" (6.1.5),
//     and "the CWR bit in the TCP header SHOULD NOT be set on
//     retransmitted packets" (6.1.2);
//   - window probes are Not-ECT and without CWR: "the TCP data sender
//     MUST NOT set either an ECT codepoint or the CWR bit on window probe
//     packets" (6.1.6), for the receiver drops a probe beyond its zero
//     window (RFC 9293 3.10.7.4) and its loss would go unnoticed. A
//     pending CWR waits for the next new data.
//
// A tail loss probe of new data (RFC 8985 7.3) and the segment the persist
// timer sends into a small open window (the override of sender SWS
// avoidance, RFC 9293 3.8.6.2.1) are new data inside the peer's window, not
// window probes, and go out ECT(0) as Linux sends them. Every ACK carries
// ECE while the receiver echoes a CE mark (6.1.3).
func (c *Conn) ecnMark(f *HeaderFields, payloadLen int, kind segmentKind) {
	if !c.ecnOK {
		return
	}
	if payloadLen > 0 && kind == newSegment {
		f.ECN = ECT0
		if c.ecnCWRPending {
			f.Flags |= FlagCWR
			c.ecnCWRPending = false
		}
	}
	if c.ecnEcho && f.Flags&FlagACK != 0 {
		f.Flags |= FlagECE
	}
}
