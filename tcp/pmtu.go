package tcp

import "time"

// MinPathMSS is the smallest send MSS path MTU discovery lowers a
// connection to: a path MTU of 552 bytes (Linux's min_pmtu) less the IPv4
// and TCP headers. Forged "fragmentation needed" messages announcing tiny
// MTUs could otherwise make a connection crawl one small segment at a time
// (RFC 5927 section 7.2).
const MinPathMSS = 552 - 40

// SetPathMTU handles an ICMP "fragmentation needed" message (RFC 1191)
// that quotes one of this connection's segments with sequence number
// quotedSeq and says the path carries at most mtu bytes. It returns
// whether the message was taken.
//
// It is taken only if the quoted sequence number lies in SND.UNA..SND.NXT,
// data in flight, so that an attacker who cannot see the connection cannot
// forge one (RFC 5927 section 4.1), and only if it lowers the MSS: ICMP may
// only shrink the path MTU (RFC 1191 section 6.3). The send MSS becomes mtu
// less 40 bytes of headers (our data segments carry no options), never below
// MinPathMSS, and what is in flight is sent again from SND.UNA in segments
// that fit (the too-large ones were dropped on the way). This is not a
// congestion signal: the window is left alone, as Linux's
// tcp_simple_retransmit does.
func (c *Conn) SetPathMTU(mtu int, quotedSeq Seq, now time.Time) bool {
	if !c.state.synchronized() || c.sndNxt == c.sndUna || !quotedSeq.InRange(c.sndUna, c.sndNxt) {
		return false
	}
	mss := max(mtu-40, MinPathMSS)
	if mss >= c.sndMSS {
		return false
	}
	c.sndMSS = mss
	// Go back to SND.UNA and resend with the new size; Karn's rule: no RTT
	// sample across the retransmission.
	c.rttTiming = false
	c.sndNxt = c.sndUna
	c.transmit(now)
	return true
}
