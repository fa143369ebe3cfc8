package tcp

import "time"

// MinPathMTU is the smallest path MTU that path MTU discovery lowers a
// connection to: 552 bytes, Linux's min_pmtu. Forged "fragmentation
// needed" messages announcing tiny MTUs could otherwise make a connection
// crawl one small segment at a time (RFC 5927 section 7.2).
const MinPathMTU = 552

// MinPathMSS is the send MSS at MinPathMTU for a connection whose data
// segments carry no options: the MTU less the IPv4 and TCP headers. With
// timestamps (RFC 7323) it is 12 bytes less.
const MinPathMSS = MinPathMTU - 40

// SetPathMTU handles an ICMP "fragmentation needed" message (RFC 1191)
// that quotes one of this connection's segments with sequence number
// quotedSeq and says the path carries at most mtu bytes. It returns
// whether the message was taken.
//
// It is taken only if the quoted sequence number lies in SND.UNA..SND.NXT,
// data in flight, so that an attacker who cannot see the connection cannot
// forge one (RFC 5927 section 4.1), and only if it lowers the MSS: ICMP may
// only shrink the path MTU (RFC 1191 section 6.3). The send MSS becomes what
// fits in mtu (never below MinPathMTU) after the IPv4 and TCP headers and
// the timestamps option if the connection uses it (RFC 6691: the MSS counts
// data only), and what is in flight is sent again from SND.UNA in segments
// that fit (the too-large ones were dropped on the way). This is not a
// congestion signal: the window is left alone, as Linux's
// tcp_simple_retransmit does.
func (c *Conn) SetPathMTU(mtu int, quotedSeq Seq, now time.Time) bool {
	if !c.state.synchronized() || c.sndNxt == c.sndUna || !quotedSeq.InRange(c.sndUna, c.sndNxt) {
		return false
	}
	mss := max(mtu, MinPathMTU) - 40
	if c.tsOK {
		mss -= timestampsOptionLen
	}
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

// minAnnouncedMSS is the smallest MSS we announce: what the smallest IPv4
// MTU (68 bytes, RFC 791) carries after 40 bytes of IPv4 and TCP headers.
// Our announcement says what our link can carry (RFC 9293 3.7.1: the MSS
// is the link's MTU less the fixed headers), however small. The floor on
// the MSS we send with, minSendMSS, is a separate matter: it guards
// against a peer that announces a tiny MSS to make us work hard.
const minAnnouncedMSS = 68 - 40
