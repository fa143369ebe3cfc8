package tcp

import "time"

// Receive buffer auto-tuning: dynamic right-sizing (DRS) of the window we
// offer, as Linux's tcp_rcv_space_adjust. A receiver cannot know how much
// window the path needs (bandwidth times RTT), but it can see how fast the
// application drains the buffer: if it reads more than half of the space
// within one RTT, the window was the limit, and doubling it lets the
// sender go faster. The space only grows (the window never shrinks), from
// Config.ReceiveBufferMin to Config.ReceiveBufferSize.

func (c *Conn) resetReceiveSpace() {
	c.rcvSpace = c.recvBuf.cap()
	if m := c.cfg.ReceiveBufferMin; m > 0 && m < c.rcvSpace {
		c.rcvSpace = m
	}
	c.rcvCopied, c.rcvCopiedFrom, c.rcvRTT = 0, time.Time{}, 0
}

// receiveSpace is the room for new data the window may offer now: free
// buffer space, within the tuned space less what is held unread.
func (c *Conn) receiveSpace() int {
	return max(min(c.recvBuf.free(), c.rcvSpace-c.recvBuf.len()), 0)
}

// noteReceiveRTT takes a receiver-side RTT sample from a data segment's
// timestamp echo (RFC 7323 section 4: TSecr is the TSval of our segment
// that the data answers, typically our last ACK).
func (c *Conn) noteReceiveRTT(seg *Segment, now time.Time) {
	if !c.tsOK || len(seg.Payload) == 0 || !seg.Options.HasTimestamps || seg.Options.TSEcr == 0 {
		return
	}
	d := int32(c.tsClock(now) - seg.Options.TSEcr)
	if d < 0 {
		return
	}
	r := max(time.Duration(d)*time.Millisecond, time.Millisecond)
	if c.rcvRTT == 0 || r < c.rcvRTT {
		c.rcvRTT = r
	} else {
		c.rcvRTT = (7*c.rcvRTT + r) / 8
	}
}

// tuneReceiveSpace counts n bytes the application read at now and, once
// per RTT, doubles the space if more than half of it was read.
func (c *Conn) tuneReceiveSpace(n int, now time.Time) {
	if c.rcvSpace >= c.recvBuf.cap() {
		return
	}
	rtt := c.rcvRTT
	if rtt == 0 && c.hasRTT {
		rtt = c.srtt
	}
	rtt = max(rtt, time.Millisecond)
	if c.rcvCopiedFrom.IsZero() {
		c.rcvCopiedFrom = now
	}
	c.rcvCopied += n
	if now.Sub(c.rcvCopiedFrom) < rtt {
		return
	}
	if c.rcvCopied > c.rcvSpace/2 {
		c.rcvSpace = min(max(2*c.rcvCopied, 2*c.rcvSpace), c.recvBuf.cap())
		c.stats.ReceiveSpaceGrown++
	}
	c.rcvCopied, c.rcvCopiedFrom = 0, now
}
