package tcp

import "time"

// RACK-TLP (RFC 8985): loss detection by time rather than by counting.
//
// RACK ("recent acknowledgment"): when a segment is delivered (cumulatively
// acknowledged or SACKed), every segment sent before it that is still
// outstanding is lost once it has been out longer than the RTT of the
// delivered one plus a reordering window. Unlike DupThresh this also finds
// lost retransmissions and losses at the end of a short flight.
//
// TLP ("tail loss probe"): when nothing comes back for about two RTTs, send
// one segment (new data, or the last one again) to draw an ACK whose SACK
// blocks let RACK find the loss, instead of waiting for the
// retransmission timeout.

// Constants of RFC 8985.
const (
	rackReoWndMultMax = 16                     // section 6.2 step 4: reo_wnd_mult is capped
	tlpMaxAckDelay    = 200 * time.Millisecond // section 7.2: WCDelAckT
	tlpMinPTO         = 2 * time.Millisecond   // a floor under 2*SRTT on very short paths (Linux adds 2 jiffies)
	rackPersistRounds = 16                     // section 6.2 step 4: reo_wnd_mult resets after 16 recoveries
)

func (c *Conn) resetRACK() {
	c.rackXmit, c.rackEnd, c.rackRTT = time.Time{}, 0, 0
	c.rackReorderingSeen, c.rackReoWndMult, c.rackRecoveries = false, 1, 0
	c.rackAt, c.tlpAt, c.tlpInFlight, c.tlpEnd = time.Time{}, time.Time{}, false, 0
}

// rackDelivered is RFC 8985 section 6.2 steps 2 and 3 for one segment the
// peer now holds: remember the most recently sent delivered segment
// (RACK.xmit_ts, RACK.end_seq) and its RTT, and notice reordering.
func (c *Conn) rackDelivered(r *segRecord, now time.Time) {
	rtt := now.Sub(r.sentAt)
	if !r.resent && rtt > 0 && (c.minRTT == 0 || rtt < c.minRTT) {
		// RACK.min_RTT (section 6.2 step 2) from the segment's own send
		// time, at the clock's precision: a segment sent once gives an
		// unambiguous sample. The timestamp echo counts in the
		// milliseconds of our TSval clock (RFC 7323 section 5.4), so on a
		// path faster than that it alone would leave min_RTT at 1 ms,
		// above every real RTT, and step 2 below would then take the ACK
		// of every retransmission for one of the original: RACK.xmit_ts
		// would never reach a retransmission, and a lost retransmission
		// with no new data sent after it would wait for the RTO.
		c.minRTT = rtt
	}
	// Step 2: "If RACK.segment was retransmitted ... [and] RACK.rtt <
	// RACK.min_RTT", the ACK is for the original transmission: no sample.
	if r.resent && c.minRTT > 0 && rtt < c.minRTT {
		return
	}
	// Step 3: a segment delivered below the highest one SACKed that was
	// never retransmitted arrived out of order.
	if !r.retransmitted {
		if fack, ok := c.sb.highestSACKed(); ok && r.end.LessThan(fack) {
			if !c.rackReorderingSeen {
				c.stats.ReorderingSeen++
			}
			c.rackReorderingSeen = true
		}
	}
	if c.rackXmit.IsZero() || r.sentAt.After(c.rackXmit) || (r.sentAt.Equal(c.rackXmit) && r.end.GreaterThan(c.rackEnd)) {
		c.rackXmit, c.rackEnd, c.rackRTT = r.sentAt, r.end, rtt
	}
}

// rackOnDSACK widens the reordering window after a D-SACK showed a
// retransmission was spurious (section 6.2 step 4).
func (c *Conn) rackOnDSACK() {
	if c.tlpInFlight && c.tlpRetransmitted {
		// The duplicate is the probe's: its original arrived and only
		// the ACKs were lost (section 7.4). That is no reordering.
		c.tlpDSACKed = true
		return
	}
	c.rackReorderingSeen = true
	c.rackReoWndMult = min(c.rackReoWndMult+1, rackReoWndMultMax)
	c.rackRecoveries = 0
}

// rackReoWnd is RACK.reo_wnd (section 6.2 step 4): zero while no
// reordering has been seen and recovery is on or DupThresh segments are
// SACKed (then RACK behaves like DupThresh), else min_RTT/4 times the
// multiplier, at most SRTT.
func (c *Conn) rackReoWnd() time.Duration {
	if !c.rackReorderingSeen && (c.inRecovery || c.sb.sackedSegs >= dupThresh) {
		return 0
	}
	w := c.minRTT / 4 * time.Duration(c.rackReoWndMult)
	if c.hasRTT {
		w = min(w, c.srtt)
	}
	return w
}

// rackDetectLoss is section 6.2 step 5: each outstanding segment sent
// before RACK.xmit_ts is lost when RACK.rtt + RACK.reo_wnd has passed
// since it was sent; for the others the reordering timer is armed for when
// that will be. It reports whether it marked any segment lost.
func (c *Conn) rackDetectLoss(now time.Time) bool {
	if c.rackXmit.IsZero() {
		return false
	}
	if c.sb.sackedSegs == 0 && !c.inRecovery {
		// Only cumulative ACKs so far: everything still out was sent
		// after what was delivered, nothing can be lost by time yet.
		c.rackAt = time.Time{}
		return false
	}
	reo := c.rackReoWnd()
	var wait time.Duration
	marked := false
	live := c.sb.live()
	for i := range live {
		r := &live[i]
		if r.sacked || (r.lost && !r.retransmitted) {
			continue
		}
		sentBefore := r.sentAt.Before(c.rackXmit) || (r.sentAt.Equal(c.rackXmit) && r.end.LessThan(c.rackEnd))
		if !sentBefore {
			continue
		}
		remaining := r.sentAt.Add(c.rackRTT + reo).Sub(now)
		if remaining <= 0 {
			r.lost, r.retransmitted = true, false
			marked = true
		} else {
			wait = max(wait, remaining)
		}
	}
	c.rackAt = time.Time{}
	if wait > 0 {
		c.rackAt = now.Add(wait)
	}
	return marked
}

// onRACKTimeout runs when the reordering timer fires (section 6.3).
func (c *Conn) onRACKTimeout(now time.Time) {
	c.rackAt = time.Time{}
	c.detectLosses(now)
}

// armTLP schedules a tail loss probe (section 7.2) after data was sent or
// an ACK arrived: PTO = 2*SRTT, plus the peer's worst-case delayed ACK when
// only one segment is out, and never later than the retransmission timer.
func (c *Conn) armTLP(now time.Time) {
	c.tlpAt = time.Time{}
	if !c.cfg.RACK || !c.sackOK || c.inRecovery || c.tlpInFlight || c.sndUna == c.sndMax ||
		c.state != Established && c.state != CloseWait {
		return
	}
	pto := time.Second
	if c.hasRTT {
		pto = max(2*c.srtt, tlpMinPTO)
		if int(c.sndMax.Sub(c.sndUna)) <= c.sndMSS {
			pto += tlpMaxAckDelay
		}
	}
	at := now.Add(pto)
	if !c.rtxAt.IsZero() && !at.Before(c.rtxAt) {
		return // the retransmission timer comes first
	}
	c.tlpAt = at
}

// onTLPTimeout sends the probe (section 7.3): the last segment sent,
// again; then the retransmission timer guards it.
//
// Section 7.3 says the sender SHOULD send a new segment instead when one
// is queued and the peer's window allows. We resend the last one because
// of what the probe is for: to draw an ACK at once. A PTO expires because
// either the tail of the flight or the ACKs for it were lost, and when
// only the ACKs were (as likely: a flight of a few offloaded super-segments
// draws a few ACKs), a new segment arrives in order, and the receiver may
// delay its ACK (RFC 9293 3.8.6.3 allows up to 0.5 s; Linux waits 40 ms
// when its window does not grow): measured on compare.sh's down_loss1pct,
// the kernel answered each new-data probe after 42 ms, and the transfer
// stood still for 2.4 of its 3 seconds. A duplicate segment is
// unacceptable to the receiver and RFC 9293 3.10.7.4 has it send "an
// acknowledgment ... in reply" at once, with a D-SACK (RFC 2883) that
// tells us the original arrived (7.4: no loss); when the tail was lost
// instead, the resent segment repairs its last piece and draws a SACK
// from which RACK finds the rest, as new data would have.
func (c *Conn) onTLPTimeout(now time.Time) {
	c.tlpAt = time.Time{}
	if c.sndUna == c.sndMax || c.inRecovery || !c.canSendData() {
		return
	}
	c.stats.TailLossProbes++
	probeIsRetransmission := false
	if live := c.sb.live(); len(live) > 0 {
		for i := len(live) - 1; i >= 0; i-- {
			if !live[i].sacked {
				c.resendRecord(i, now)
				probeIsRetransmission = true
				break
			}
		}
	}
	pending := c.sendBuf.len() - int(c.sndNxt.Sub(c.sndBufSeq))
	if !probeIsRetransmission && pending > 0 && c.sndWnd-int(c.sndNxt.Sub(c.sndUna)) >= min(pending, c.sndMSS) {
		// Every segment out is SACKed and SND.UNA still waits: a new
		// segment draws the ACK.
		n := min(pending, c.sndMSS)
		flags := FlagACK
		if n == pending {
			flags |= FlagPSH
			if c.finQueued {
				flags |= FlagFIN
			}
		}
		c.sendRange(c.sndNxt, n, flags, now)
	}
	c.tlpInFlight, c.tlpEnd = true, c.sndMax
	c.tlpRetransmitted, c.tlpDSACKed = probeIsRetransmission, false
	c.rtxAt = now.Add(c.rto)
}

// onTLPEpisodeEnd is section 7.4, for an ACK at or above TLP.end_seq:
// when the ACK for a retransmitted probe arrives without a D-SACK saying
// the original got through, the probe repaired a loss, and the congestion
// control must hear of it, as after a fast recovery. An ACK of exactly
// TLP.end_seq without a D-SACK may still be the late ACK of the original,
// with the probe's D-SACK in the ACK after it; while data beyond the probe
// is out or queued, a later ACK decides (as Linux's tcp_process_tlp_ack
// waits for one that acknowledges more).
func (c *Conn) onTLPEpisodeEnd(ack Seq, now time.Time) {
	moreToCome := c.sndMax.GreaterThan(ack) || c.dataEnd().GreaterThan(c.sndMax)
	if c.tlpRetransmitted && !c.tlpDSACKed && ack == c.tlpEnd && moreToCome {
		return
	}
	c.tlpInFlight = false
	if c.tlpRetransmitted && !c.tlpDSACKed && !c.inRecovery {
		c.stats.TLPRecoveries++
		c.cc.OnLoss(int(c.sndMax.Sub(c.sndUna)), now)
		c.cc.OnRecoveryEnd(now)
		c.windowReduced()
	}
}
