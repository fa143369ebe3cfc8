package tcp

import "time"

// Timers without a clock: the Conn keeps each timer as the time it falls
// due (zero when off). After every call the owner asks Deadline for the
// earliest one and calls HandleTimer when that time comes; a virtual clock
// in tests, a real one in the stack. Calling HandleTimer early or late is
// harmless: it does what is due at the time it is given.

// Deadline returns the earliest time HandleTimer must be called, and false
// if no timer is running.
func (c *Conn) Deadline() (time.Time, bool) {
	var d time.Time
	for _, t := range [...]time.Time{c.rtxAt, c.persistAt, c.delAckAt, c.keepAliveAt, c.finWait2At, c.timeWaitAt, c.rackAt, c.tlpAt} {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	return d, !d.IsZero()
}

func due(t, now time.Time) bool { return !t.IsZero() && !now.Before(t) }

// HandleTimer runs every timer that is due at now: TIME-WAIT and FIN-WAIT-2
// expiry, retransmission, persist, delayed ACK and keepalive.
func (c *Conn) HandleTimer(now time.Time) {
	if due(c.timeWaitAt, now) {
		// RFC 9293 3.10.8: "If the time-wait timeout expires on a
		// connection, delete the TCB, enter the CLOSED state, and return."
		c.timeWaitAt = time.Time{}
		c.enterClosed(EventTimeWaitTimeout, nil)
		return
	}
	if due(c.finWait2At, now) {
		c.finWait2At = time.Time{}
		c.enterClosed(EventFinWait2Timeout, nil)
		return
	}
	if due(c.rtxAt, now) {
		c.rtxAt = time.Time{}
		c.onRetransmitTimeout(now)
		if c.state == Closed {
			return
		}
	}
	if due(c.rackAt, now) {
		c.onRACKTimeout(now)
	}
	if due(c.tlpAt, now) {
		c.onTLPTimeout(now)
	}
	if due(c.persistAt, now) {
		c.persistAt = time.Time{}
		c.onPersistTimeout(now)
	}
	if due(c.keepAliveAt, now) {
		c.keepAliveAt = time.Time{}
		c.onKeepAliveTimeout(now)
		if c.state == Closed {
			return
		}
	}
	if due(c.delAckAt, now) {
		c.delAckAt = time.Time{}
		c.ackNow = true
	}
	c.transmit(now)
}

// onRetransmitTimeout is RFC 6298 section 5.4 - 5.6 and RFC 9293 3.8.3: give
// up after the retry limit, else back off the RTO, shrink the congestion
// window to one segment (RFC 5681 3.1), go back to SND.UNA and resend the
// oldest segment.
func (c *Conn) onRetransmitTimeout(now time.Time) {
	c.stats.Timeouts++
	limit := c.cfg.MaxRetries
	if c.state == SynSent || c.state == SynReceived {
		limit = c.cfg.SynRetries
	}
	// A peer that keeps answering with a zero window is alive: our
	// retransmissions are window probes then, and RFC 9293 3.8.6.1 says the
	// connection must stay open "as long as the receiving TCP continues to
	// send acknowledgments in response to the probe segments". They are not
	// counted (Linux does the same), unless the peer has been silent for
	// MaxRTO.
	zeroWindowProbe := c.sndWnd == 0 && c.state.synchronized() && now.Sub(c.lastHeard) < c.cfg.MaxRTO
	if c.retries >= limit && !zeroWindowProbe {
		c.enterClosed(EventRetransmitTimeout, ErrTimeout)
		return
	}
	if !zeroWindowProbe {
		c.retries++
	}
	c.setRTO(min(2*c.rtoBase(), c.cfg.MaxRTO)) // 5.5: back off the timer
	c.rttTiming = false
	if c.state.synchronized() {
		c.cc.OnTimeout(int(c.sndMax.Sub(c.sndUna)), now)
		c.windowReduced()
		c.onTimeoutRecovery()
		if c.sackOK {
			// Resend the first hole; the recovery loop sends the others
			// as ACKs come back, skipping what the peer SACKed.
			if i := c.sb.firstLost(); i >= 0 {
				c.resendRecord(i, now)
			}
			c.rtxAt = now.Add(c.rto)
			return
		}
	}
	c.retransmitOldest(now)
	c.rtxAt = now.Add(c.rto) // 5.6: restart the timer
}

// onPersistTimeout sends a window probe (RFC 9293 3.8.6.1): with a zero
// window, one byte beyond it, which the peer answers with an ACK showing its
// window; with a small nonzero window that sender SWS avoidance held back,
// as much as it allows (the "override timeout" of 3.8.6.2.1). SND.NXT does
// not move for a zero-window probe, so it is not subject to the retry
// limit: the connection stays open as long as the peer answers.
func (c *Conn) onPersistTimeout(now time.Time) {
	if !c.canSendData() || c.sndNxt != c.sndUna {
		return
	}
	pending := c.sendBuf.len() - int(c.sndNxt.Sub(c.sndBufSeq))
	if pending <= 0 {
		return
	}
	c.persistBackoff++
	if usable := min(c.sndWnd, c.sendWindow()); usable > 0 {
		n := min(pending, usable, c.sndMSS)
		flags := FlagACK
		if n == pending {
			flags |= FlagPSH
		}
		c.sendRange(c.sndNxt, n, flags, now)
		return
	}
	// The probe byte is new data the first time only; either way it is
	// never ECN-capable (RFC 3168 6.1.6, ecnMark).
	a, b := c.sendBuf.slices(int(c.sndNxt.Sub(c.sndBufSeq)), 1)
	kind := windowProbe
	if c.sndNxt.LessThan(c.sndMax) {
		kind = resentSegment
	}
	c.recordSent(c.sndNxt, c.sndNxt.Add(1), now)
	c.emit(c.sndNxt, FlagACK, Payload{First: a, Second: b}, kind, now)
	c.sndMax = MaxSeq(c.sndMax, c.sndNxt.Add(1))
	c.persistAt = now.Add(c.persistInterval())
}

// armKeepAlive (re)starts the idle period after which keepalive probes
// begin. While the connection is being established the same timer is the
// connect timeout (armConnectTimeout), as BSD's TT_KEEP timer is, and is
// left alone.
func (c *Conn) armKeepAlive(now time.Time) {
	if c.state == SynSent || c.state == SynReceived {
		return
	}
	if c.cfg.KeepAlive && (c.state == Established || c.state == CloseWait) {
		c.keepAliveAt = now.Add(c.cfg.KeepAliveIdle)
	} else {
		c.keepAliveAt = time.Time{}
	}
}

// onKeepAliveTimeout sends a keepalive probe, RFC 1122 4.2.3.6: a segment
// with SEG.SEQ = SND.NXT-1 (SND.MAX-1 here) and no data, which the peer must answer with an
// ACK. After KeepAliveCount unanswered probes the connection times out.
// While data is in flight the retransmission timer watches the peer instead.
func (c *Conn) onKeepAliveTimeout(now time.Time) {
	if c.state == SynSent || c.state == SynReceived {
		// The connect timeout (Config.ConnectTimeout).
		c.enterClosed(EventConnectTimeout, ErrTimeout)
		return
	}
	if !c.cfg.KeepAlive || (c.state != Established && c.state != CloseWait) {
		return
	}
	if c.sndNxt != c.sndUna || !c.persistAt.IsZero() {
		c.keepAliveAt = now.Add(c.cfg.KeepAliveIdle)
		return
	}
	if c.keepAliveProbes >= c.cfg.KeepAliveCount {
		c.enterClosed(EventKeepAliveTimeout, ErrTimeout)
		return
	}
	c.keepAliveProbes++
	c.emit(c.sndMax.Add(^uint32(0)), FlagACK, Payload{}, newSegment, now)
	c.keepAliveAt = now.Add(c.cfg.KeepAliveInterval)
}

// armFinWait2 starts the FIN-WAIT-2 timeout; only a Conn the application
// fully closed is subject to it (a half-closed one waits for the peer).
func (c *Conn) armFinWait2(now time.Time) {
	if c.cfg.FinWait2Timeout > 0 {
		c.finWait2At = now.Add(c.cfg.FinWait2Timeout)
	}
}
