package tcp

import "time"

// The receiver's half of SACK (RFC 2018, RFC 2883) and the option helpers
// of timestamps (RFC 7323). The sender's half, the scoreboard, is in
// recovery.go.

// timestampsOptionLen is the space TSopt takes in every segment once
// negotiated: NOP, NOP, kind, length, TSval, TSecr.
const timestampsOptionLen = 12

// quickAckSegments is how many in-order segments are acknowledged at once,
// without the delayed ACK, after out-of-order data arrived or a hole was
// filled (Linux's TCP_MAX_QUICKACKS).
const quickAckSegments = 16

// pawsIdleLimit is RFC 7323 section 5.5's 24 days: after a connection has
// been idle that long, the peer's timestamp clock may have wrapped past
// TS.Recent, which is then no longer valid for PAWS.
const pawsIdleLimit = 24 * 24 * time.Hour

// tsClock is our timestamp clock: milliseconds (RFC 7323 section 5.4
// allows 1 ms to 1 s per tick) plus a per-connection offset, so that
// TSval reveals neither uptime nor other connections' clocks.
func (c *Conn) tsClock(now time.Time) uint32 { return uint32(now.UnixMilli()) + c.tsOffset }

// tsBefore reports whether timestamp a is before b in the modular
// arithmetic of RFC 7323 section 5.2 (a difference of less than 2^31).
func tsBefore(a, b uint32) bool { return int32(a-b) < 0 }

// noteOutOfOrder records that an out-of-order segment starting at seq has
// arrived: its block goes first in the next SACK option, the others follow
// most recent first (RFC 2018 section 4: "The first SACK block ... MUST
// specify the contiguous block of data containing the segment which
// triggered this ACK ... the SACK option SHOULD be filled out by repeating
// the most recently reported SACK blocks").
func (c *Conn) noteOutOfOrder(seq Seq) {
	r, ok := c.ooo.containing(seq)
	if !ok {
		return
	}
	// Drop entries the new block has swallowed, then put seq in front.
	k := 0
	for _, s := range c.sackRecent[:c.sackRecentN] {
		if s.GreaterThanEq(r.start) && s.LessThan(r.end) {
			continue
		}
		c.sackRecent[k] = s
		k++
	}
	k = min(k, MaxSACKBlocks-1)
	copy(c.sackRecent[1:k+1], c.sackRecent[:k])
	c.sackRecent[0] = seq
	c.sackRecentN = k + 1
}

// reportDuplicate arranges for the next ACK to carry [start, end) as a
// D-SACK block (RFC 2883): the peer learns its retransmission was spurious.
func (c *Conn) reportDuplicate(start, end Seq) {
	c.dsack, c.dsackPending = seqRange{start, end}, true
	c.ackNow = true
}

// fillSACKBlocks puts up to max blocks into o: a pending D-SACK block
// first (RFC 2883 section 4), then the blocks of the most recently received
// out-of-order segments, then any other out-of-order ranges.
func (c *Conn) fillSACKBlocks(o *Options, limit int) {
	n := 0
	if c.dsackPending && limit > 0 {
		o.SACKBlocks[0] = SACKBlock{c.dsack.start, c.dsack.end}
		n = 1
		c.dsackPending = false
		c.stats.DSACKsSent++
	}
	first := n // a D-SACK block may repeat as the SACK block holding it
	add := func(r seqRange) {
		for _, b := range o.SACKBlocks[first:n] {
			if b.Left == r.start && b.Right == r.end {
				return
			}
		}
		o.SACKBlocks[n] = SACKBlock{r.start, r.end}
		n++
	}
	for _, s := range c.sackRecent[:c.sackRecentN] {
		if n >= limit {
			break
		}
		if r, ok := c.ooo.containing(s); ok {
			add(r)
		}
	}
	for i := c.ooo.n - 1; i >= 0 && n < limit; i-- {
		add(c.ooo.r[i])
	}
	o.SACKBlockCount = n
}

// ackOptions fills the options of a non-SYN segment: TSopt when
// negotiated (RFC 7323 3.2: then in every segment but RST) and SACK blocks
// when data is held out of order or a duplicate is to be reported, as many
// as fit in the 40 bytes of option space and, on a data segment, in the
// MSS next to payloadLen bytes (RFC 6691).
func (c *Conn) ackOptions(o *Options, payloadLen int, now time.Time) {
	room := MaxOptionsLen
	if payloadLen > 0 {
		room = min(room, max(min(c.peerMSS, c.cfg.MSS), minSendMSS)-min(payloadLen, c.sndMSS))
	}
	if c.tsOK {
		o.HasTimestamps, o.TSVal, o.TSEcr = true, c.tsClock(now), c.tsRecent
		room -= timestampsOptionLen
	}
	if c.sackOK && (c.ooo.n > 0 || c.dsackPending) {
		if limit := min((room-4)/8, MaxSACKBlocks); limit > 0 {
			c.fillSACKBlocks(o, limit)
		}
	}
}
