package tcp

import "time"

// Loss recovery. The congestion control (CongestionControl) only sizes the
// window; this file decides what is lost and what to resend:
//
//   - Without SACK, fast retransmit and fast recovery of RFC 5681 section
//     3.2 with the NewReno change of RFC 6582: three duplicate ACKs resend
//     the oldest segment, each further one inflates the window by a
//     segment, each partial ACK resends the next hole.
//   - With SACK (RFC 2018), the conservative recovery of RFC 6675: the
//     scoreboard of SACKed ranges says which bytes are lost (IsLost), how
//     much is still in the network (pipe, SetPipe) and what to send next
//     (NextSeg); only holes are resent. After a retransmission timeout the
//     same machinery resends every hole, never data the peer SACKed.

// dupThresh is RFC 6675's DupThresh (and RFC 5681's three duplicate ACKs).
const dupThresh = 3

func (c *Conn) resetRecovery(iss Seq) {
	c.dupAcks, c.dupAcksAboveRecover = 0, false
	c.inRecovery, c.rtoRecovery = false, false
	c.recover, c.highRxt = iss, iss // RFC 6582 section 3.2 step 1
	c.inflation = 0
	c.scoreboard.reset()
}

// sendWindow is how many bytes the congestion control lets be in flight
// outside SACK recovery: cwnd, plus the NewReno inflation in recovery
// without SACK, plus one segment per duplicate ACK for the first two
// (Limited Transmit, RFC 3042: new data on them, so that a small window
// still produces the duplicate ACKs fast retransmit needs).
func (c *Conn) sendWindow() int {
	w := c.cc.CongestionWindow()
	switch {
	case c.inRecovery && !c.sackOK:
		w = max(w+c.inflation, c.sndMSS)
	case !c.inRecovery && c.dupAcks > 0 && c.dupAcks < dupThresh && c.dupAcksAboveRecover:
		w += c.dupAcks * c.sndMSS
	}
	return w
}

// takeSACKBlocks reads the SACK option of an ACK (RFC 2018 section 3)
// into the scoreboard. A first block below the cumulative ACK, or inside
// the second block, is a D-SACK (RFC 2883 section 4): the peer received a
// segment twice, so our retransmission of it was spurious. It returns how
// many bytes were newly SACKed.
func (c *Conn) takeSACKBlocks(seg *Segment) int {
	o := &seg.Options
	lowest := MaxSeq(seg.Ack, c.sndUna)
	added := 0
	for i, b := range o.SACKBlocks[:min(o.SACKBlockCount, MaxSACKBlocks)] {
		if !b.Left.LessThan(b.Right) {
			continue
		}
		if i == 0 && (b.Right.LessThanEq(seg.Ack) ||
			(o.SACKBlockCount > 1 && b.Left.GreaterThanEq(o.SACKBlocks[1].Left) && b.Right.LessThanEq(o.SACKBlocks[1].Right))) {
			c.stats.DSACKsReceived++
			continue
		}
		// RFC 2018 section 3 leaves validation to the sender: a block must
		// lie within what we sent and is not yet cumulatively acknowledged.
		if b.Right.LessThanEq(lowest) || b.Right.GreaterThan(c.sndMax) {
			continue
		}
		left := MaxSeq(b.Left, lowest)
		n, ok := c.scoreboard.add(left, b.Right)
		if !ok {
			continue // scoreboard full: the information is lost, not wrong
		}
		c.stats.SACKBlocksReceived++
		added += n
	}
	return added
}

// lostEnd returns where the lost part of the hole [start, end) ends (start
// if none of it is lost). sackedAbove and blocksAbove describe what the
// scoreboard holds above the hole. RFC 6675 IsLost: a byte is lost when
// DupThresh discontiguous SACKed ranges, or more than (DupThresh-1)*SMSS
// SACKed bytes, lie above it. After a timeout every unSACKed byte below
// the recovery point is lost.
func (c *Conn) lostEnd(start, end Seq, sackedAbove, blocksAbove int) Seq {
	if blocksAbove >= dupThresh || sackedAbove > (dupThresh-1)*c.sndMSS {
		return end
	}
	if c.rtoRecovery && start.LessThan(c.recover) {
		return MinSeq(end, c.recover)
	}
	return start
}

// hole is one unSACKed range between SND.UNA and SND.MAX, with the part of
// it that is lost.
type hole struct {
	start, lost, end Seq  // [start, lost) is lost, [lost, end) is not
	tail             bool // above the highest SACKed byte
}

// holes calls f for each hole from SND.UNA upward until f returns false.
func (c *Conn) holes(f func(h hole) bool) {
	sb := &c.scoreboard
	// Suffix sums: SACKed bytes and blocks above each scoreboard entry.
	var above [maxOutOfOrderRanges + 1]int
	for i := sb.n - 1; i >= 0; i-- {
		above[i] = above[i+1] + int(sb.r[i].end.Sub(sb.r[i].start))
	}
	pos := c.sndUna
	for i := 0; i <= sb.n; i++ {
		end := c.sndMax
		if i < sb.n {
			end = sb.r[i].start
		}
		if pos.LessThan(end) {
			if !f(hole{pos, c.lostEnd(pos, end, above[i], sb.n-i), end, i == sb.n}) {
				return
			}
		}
		if i < sb.n {
			pos = MaxSeq(pos, sb.r[i].end)
		}
	}
}

// pipe is RFC 6675's SetPipe: the bytes thought to be in the network.
// Each unSACKed byte counts once if it is not lost, and once more if it
// was retransmitted (it is below HighRxt).
func (c *Conn) pipe() int {
	p := 0
	c.holes(func(h hole) bool {
		p += int(h.end.Sub(h.lost))
		if c.highRxt.GreaterThan(h.start) {
			p += int(MinSeq(c.highRxt, h.end).Sub(h.start))
		}
		return true
	})
	return p
}

// nextHole is RFC 6675 NextSeg rules 1 and 3: the first lost byte above
// HighRxt (rule 1), or with lostOnly false, the first unSACKed one above
// HighRxt and below the highest SACKed byte (rule 3). It returns the range
// to resend, at most one SMSS.
func (c *Conn) nextHole(lostOnly bool) (start, end Seq, ok bool) {
	c.holes(func(h hole) bool {
		s := MaxSeq(h.start, c.highRxt)
		limit := h.lost
		if !lostOnly {
			if h.tail {
				return false
			}
			limit = h.end
		}
		if s.LessThan(limit) {
			start, end, ok = s, MinSeq(limit, s.Add(uint32(c.sndMSS))), true
			return false
		}
		return true
	})
	return
}

// onDuplicateAck counts a duplicate ACK (RFC 5681 section 2, or with SACK
// any ACK that SACKs new data without moving SND.UNA, RFC 6675 section 2)
// and starts recovery on the third.
func (c *Conn) onDuplicateAck(ack Seq, now time.Time) {
	c.dupAcks++
	c.dupAcksAboveRecover = ack.GreaterThan(c.recover)
	if c.inRecovery {
		if !c.sackOK {
			c.inflation += c.sndMSS // RFC 5681 section 3.2 step 4
		}
		return
	}
	// RFC 6582 section 3.2 step 2: not when the duplicates may be from
	// before the last recovery or timeout.
	if c.dupAcks >= dupThresh && c.dupAcksAboveRecover {
		c.enterRecovery(now)
	}
}

// maybeEnterRecoveryBySACK is RFC 6675 section 5's other trigger: the
// scoreboard already shows SND.UNA lost, whatever the count of duplicate
// ACKs (several SACK blocks may arrive in fewer ACKs).
func (c *Conn) maybeEnterRecoveryBySACK(now time.Time) {
	if c.inRecovery || !c.sackOK || c.scoreboard.n == 0 || c.sndUna == c.sndMax || !c.sndUna.GreaterThan(c.recover) {
		return
	}
	lost := false
	c.holes(func(h hole) bool {
		lost = h.start == c.sndUna && h.lost != h.start
		return false
	})
	if lost {
		c.enterRecovery(now)
	}
}

// enterRecovery starts fast recovery: RFC 5681 3.2 steps 2 and 3 with RFC
// 6582, or RFC 6675 section 5 step 4.
func (c *Conn) enterRecovery(now time.Time) {
	inFlight := int(c.sndMax.Sub(c.sndUna))
	c.inRecovery, c.rtoRecovery = true, false
	c.recover = c.sndMax // RecoveryPoint = HighData
	c.stats.FastRetransmits++
	c.rttTiming = false
	if c.sackOK {
		c.cc.OnLoss(inFlight, now)
		c.highRxt = c.sndUna
		// Step 4.3: "retransmit the first data segment presumed dropped"
		// whatever pipe says.
		c.resendRange(c.sndUna, MinSeq(c.sndMax, c.sndUna.Add(uint32(c.sndMSS))), now)
		return
	}
	c.cc.OnLoss(inFlight, now)
	c.inflation = dupThresh * c.sndMSS // "cwnd = ssthresh + 3*SMSS"
	c.retransmitOldest(now)
}

// onRecoveryAck handles an ACK that advanced SND.UNA by acked bytes during
// recovery: a full acknowledgment ends it (RFC 6582 3.2 step 3, RFC 6675
// section 5 step 1); without SACK a partial one resends the next hole and
// deflates the window. It reports whether the congestion control should
// also count the ACK as growth (only after a timeout: slow start).
func (c *Conn) onRecoveryAck(ack Seq, acked int, now time.Time) (grow bool) {
	if ack.GreaterThanEq(c.recover) {
		rto := c.rtoRecovery
		c.inRecovery, c.rtoRecovery, c.inflation = false, false, 0
		if !rto {
			c.cc.OnRecoveryEnd(now)
		}
		return rto
	}
	if c.rtoRecovery {
		return true
	}
	if !c.sackOK {
		// RFC 6582 step 3, partial acknowledgment: retransmit the first
		// unacknowledged segment, deflate by the amount acknowledged and
		// add back one SMSS if that was at least one SMSS.
		w := max(c.cc.CongestionWindow()+c.inflation-acked, c.sndMSS)
		if acked >= c.sndMSS {
			w += c.sndMSS
		}
		c.inflation = w - c.cc.CongestionWindow()
		if c.sndUna != c.sndMax {
			c.retransmitOldest(now)
		}
	}
	return false
}

// onTimeoutRecovery prepares the resend after a retransmission timeout.
// Without SACK the sender goes back to SND.UNA and sends everything again
// as the window allows. With SACK it stays at SND.MAX and treats every
// unSACKed byte below it as lost, so the recovery loop resends only holes
// (RFC 6675 section 5.1 keeps the scoreboard across the timeout).
func (c *Conn) onTimeoutRecovery() {
	c.dupAcks, c.inflation = 0, 0
	c.recover = c.sndMax
	if c.sackOK {
		c.inRecovery, c.rtoRecovery = true, true
		c.highRxt = c.sndUna
		return
	}
	c.inRecovery, c.rtoRecovery = false, false
	c.sndNxt = c.sndUna
}

// sendInRecovery is the transmission loop of RFC 6675 section 5 step
// (C): while cwnd - pipe >= 1 SMSS, send what NextSeg picks: a lost hole
// (rule 1), else new data (rule 2), else another hole (rule 3).
func (c *Conn) sendInRecovery(now time.Time) {
	pipe := c.pipe()
	cwnd := c.cc.CongestionWindow()
	for cwnd-pipe >= c.sndMSS {
		if s, e, ok := c.nextHole(true); ok {
			pipe += c.resendRange(s, e, now)
			continue
		}
		if n, ok := c.sendNewInRecovery(now); ok {
			pipe += n
			continue
		}
		if s, e, ok := c.nextHole(false); ok {
			pipe += c.resendRange(s, e, now)
			continue
		}
		break
	}
	if c.sndUna != c.sndMax && c.rtxAt.IsZero() {
		c.rtxAt = now.Add(c.rto)
	}
}

// sendNewInRecovery sends up to one SMSS of new data (or our FIN) from
// SND.NXT = SND.MAX as the peer's window allows: NextSeg rule 2.
func (c *Conn) sendNewInRecovery(now time.Time) (int, bool) {
	pending := c.sendBuf.len() - int(c.sndNxt.Sub(c.sndBufSeq))
	finToSend := c.finQueued && c.sndNxt.LessThanEq(c.dataEnd())
	if pending <= 0 && !finToSend {
		return 0, false
	}
	room := c.sndWnd - int(c.sndNxt.Sub(c.sndUna))
	n := min(max(pending, 0), c.sndMSS, max(room, 0))
	if pending > 0 && n <= 0 {
		return 0, false
	}
	flags := FlagACK
	if n > 0 && n == pending {
		flags |= FlagPSH
	}
	if finToSend && n == pending {
		flags |= FlagFIN
	}
	c.sendRange(c.sndNxt, n, flags, now)
	return max(n, 1), true
}

// resendRange retransmits [start, end) (at most one SMSS of data, plus our
// FIN if the range reaches it), advances HighRxt past it and returns the
// sequence space sent.
func (c *Conn) resendRange(start, end Seq, now time.Time) int {
	dataEnd := c.dataEnd()
	n := 0
	if start.LessThan(dataEnd) {
		n = int(MinSeq(end, dataEnd).Sub(start))
	}
	n = min(n, c.sndMSS)
	flags := FlagACK
	fin := c.finSent() && start.Add(uint32(n)) == dataEnd && end.GreaterThan(dataEnd)
	if fin {
		flags |= FlagFIN
	}
	if n == 0 && !fin {
		c.highRxt = MaxSeq(c.highRxt, end)
		return 0
	}
	c.sendRange(start, n, flags, now)
	sent := uint32(n)
	if fin {
		sent++
	}
	c.highRxt = MaxSeq(c.highRxt, start.Add(sent))
	return int(sent)
}
