package tcp

import "time"

// Loss recovery. The congestion control (CongestionControl) only sizes the
// window; this file decides what is lost and what to resend:
//
//   - Without SACK, fast retransmit and fast recovery of RFC 5681 section
//     3.2 with the NewReno change of RFC 6582: three duplicate ACKs resend
//     the oldest segment, each further one inflates the window by a
//     segment, each partial ACK resends the next hole.
//   - With SACK (RFC 2018), the conservative recovery of RFC 6675 over
//     the per-segment scoreboard (scoreboard.go): RACK (rack.go, RFC 8985)
//     or, with Config.RACK off, DupThresh (IsLost) marks segments lost;
//     pipe (SetPipe) says how much is still in the network; the loop sends
//     what NextSeg picks. Only lost segments are resent. After a
//     retransmission timeout every unSACKed segment is marked lost and the
//     same loop resends them, never data the peer SACKed.

// dupThresh is RFC 6675's DupThresh (and RFC 5681's three duplicate ACKs).
const dupThresh = 3

func (c *Conn) resetRecovery(iss Seq) {
	c.dupAcks, c.dupAcksAboveRecover = 0, false
	c.inRecovery, c.rtoRecovery = false, false
	c.recover = iss // RFC 6582 section 3.2 step 1
	c.inflation = 0
	c.sb.reset()
	c.resetRACK()
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
func (c *Conn) takeSACKBlocks(seg *Segment, now time.Time) int {
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
			c.rackOnDSACK()
			continue
		}
		// RFC 2018 section 3 leaves validation to the sender: a block must
		// lie within what we sent and is not yet cumulatively acknowledged.
		if b.Right.LessThanEq(lowest) || b.Right.GreaterThan(c.sndMax) {
			continue
		}
		c.stats.SACKBlocksReceived++
		added += c.scoreboardSACK(MaxSeq(b.Left, lowest), b.Right, now)
	}
	return added
}

// pipe is RFC 6675's SetPipe: the bytes thought to be in the network.
func (c *Conn) pipe() int { return c.sb.pipe() }

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
		if c.sackOK {
			if c.cfg.RACK {
				return // RACK decides by time (RFC 8985 section 6)
			}
			if live := c.sb.live(); len(live) > 0 && !live[0].sacked && !live[0].retransmitted {
				live[0].lost = true
			}
		}
		c.enterRecovery(now)
	}
}

// detectLosses marks lost segments after an ACK or a RACK timer, by RACK
// (RFC 8985) or, with Config.RACK off, by RFC 6675's DupThresh, and starts
// recovery when it found any (RFC 6675 section 5, RFC 8985 section 6.2
// step 5).
func (c *Conn) detectLosses(now time.Time) {
	if !c.sackOK || c.sndUna == c.sndMax || !c.state.synchronized() {
		return
	}
	var lost bool
	if c.cfg.RACK {
		lost = c.rackDetectLoss(now)
	} else {
		lost = c.sb.markLostByDupThresh(c.sndMSS)
	}
	if lost && !c.inRecovery {
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
	c.tlpAt = time.Time{}
	if c.rackRecoveries++; c.rackRecoveries >= rackPersistRounds {
		c.rackReoWndMult, c.rackRecoveries = 1, 0 // RFC 8985 6.2 step 4
	}
	c.windowReduced()
	if c.sackOK {
		c.cc.OnLoss(inFlight, now)
		// Step 4.3: "retransmit the first data segment presumed dropped"
		// whatever pipe says; the recovery loop sends the rest.
		if i := c.sb.firstLost(); i >= 0 {
			c.resendRecord(i, now)
		}
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
// as the window allows. With SACK it stays at SND.MAX and marks every
// unSACKed segment lost (RFC 8985 section 6.3; RFC 6675 section 5.1 keeps
// the scoreboard), so the recovery loop resends only holes.
func (c *Conn) onTimeoutRecovery() {
	c.dupAcks, c.inflation = 0, 0
	c.recover = c.sndMax
	c.tlpInFlight, c.tlpAt, c.rackAt = false, time.Time{}, time.Time{}
	if c.sackOK {
		c.inRecovery, c.rtoRecovery = true, true
		c.sb.markAllLost()
		return
	}
	c.inRecovery, c.rtoRecovery = false, false
	c.sndNxt = c.sndUna
}

// sendInRecovery is the transmission loop of RFC 6675 section 5 step
// (C): while cwnd - pipe >= 1 SMSS, send what NextSeg picks: a lost
// segment (rule 1), else new data (rule 2). (Rule 3, resending segments
// not yet known lost, is left to the tail loss probe.)
func (c *Conn) sendInRecovery(now time.Time) {
	pipe := c.pipe()
	cwnd := c.cc.CongestionWindow()
	for cwnd-pipe >= c.sndMSS {
		if i := c.sb.firstLost(); i >= 0 {
			pipe += c.resendRecord(i, now)
			continue
		}
		if n, ok := c.sendNewInRecovery(cwnd-pipe, now); ok {
			pipe += n
			continue
		}
		break
	}
	if c.sndUna != c.sndMax && c.rtxAt.IsZero() {
		c.rtxAt = now.Add(c.rto)
	}
}

// sendNewInRecovery sends new data (or our FIN) from SND.NXT = SND.MAX as
// the peer's window allows: NextSeg rule 2. RFC 6675 section 5 (C) sends
// one SMSS at a time while cwnd - pipe (budget) is at least one SMSS; with
// segmentation offload (Config.GSOMaxSize) the segments that loop would
// send back to back leave as one super-segment, cut into the same SMSS
// pieces by the link: the same bytes on the wire, one write instead of one
// per segment.
func (c *Conn) sendNewInRecovery(budget int, now time.Time) (int, bool) {
	pending := c.sendBuf.len() - int(c.sndNxt.Sub(c.sndBufSeq))
	finToSend := c.finQueued && c.sndNxt.LessThanEq(c.dataEnd())
	if pending <= 0 && !finToSend {
		return 0, false
	}
	room := c.sndWnd - int(c.sndNxt.Sub(c.sndUna))
	limit := c.sndMSS
	if budget >= 2*c.sndMSS {
		limit = min(c.maxSegmentPayload(), budget/c.sndMSS*c.sndMSS)
	}
	n := min(max(pending, 0), limit, max(room, 0))
	if pending > 0 && n <= 0 {
		return 0, false
	}
	if n > c.sndMSS && n < pending {
		n -= n % c.sndMSS // full-sized pieces, unless this ends the data
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

// resendRecord retransmits the scoreboard record at index i of live() (at
// most one SMSS of it; a longer one is split), with our FIN if the record
// holds it, and returns the sequence space sent.
func (c *Conn) resendRecord(i int, now time.Time) int {
	r := c.sb.live()[i]
	if r.len() > c.sndMSS+1 {
		c.sb.split(r.start.Add(uint32(c.sndMSS)))
		r = c.sb.live()[i]
	}
	dataEnd := c.dataEnd()
	n := 0
	if r.start.LessThan(dataEnd) {
		n = int(MinSeq(r.end, dataEnd).Sub(r.start))
	}
	flags := FlagACK
	if r.end.GreaterThan(dataEnd) {
		flags |= FlagFIN
	}
	c.sendRange(r.start, n, flags, now) // sendRange marks the record resent
	return r.len()
}

// recordSent updates the scoreboard for [seq, end) sent at now: new
// records beyond SND.MAX, a new send time and the retransmitted mark for
// records below it.
func (c *Conn) recordSent(seq, end Seq, now time.Time) {
	if !c.sackOK || !c.state.synchronized() && c.state != SynReceived {
		return
	}
	if seq.LessThan(c.sndMax) {
		top := MinSeq(end, c.sndMax)
		c.sb.split(seq)
		c.sb.split(top)
		if i := c.sb.find(seq); i >= 0 {
			live := c.sb.live()
			for ; i < len(live) && live[i].end.LessThanEq(top); i++ {
				live[i].sentAt, live[i].retransmitted, live[i].resent = now, true, true
			}
		}
	}
	if end.GreaterThan(c.sndMax) {
		c.sb.appendSent(MaxSeq(seq, c.sndMax), end, c.sndMSS, now)
	}
}
