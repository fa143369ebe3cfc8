package tcp

import "time"

// HandleSegment processes one arriving segment, following RFC 9293 section
// 3.10.7 ("SEGMENT ARRIVES") step by step. The stack has already verified
// the checksum and found this Conn by the four-tuple. Any answer (ACK, RST,
// SYN+ACK, data) goes out through Output before HandleSegment returns; call
// Deadline afterwards, as timers may have changed.
func (c *Conn) HandleSegment(seg Segment, now time.Time) {
	c.stats.SegmentsReceived++
	if c.obs != nil {
		c.observeReceived(&seg)
	}
	switch c.state {
	case Closed:
		c.segmentInClosed(&seg)
	case Listen:
		c.segmentInListen(&seg, now)
	case SynSent:
		c.segmentInSynSent(&seg, now)
	default:
		c.segmentInSynchronized(&seg, now)
	}
	c.transmit(now)
}

// segmentInClosed is RFC 9293 3.10.7.1: "If the state is CLOSED (i.e., TCB
// does not exist) then all data in the incoming segment is discarded. An
// incoming segment containing a RST is discarded. An incoming segment not
// containing a RST causes a RST to be sent in response."
func (c *Conn) segmentInClosed(seg *Segment) {
	if f, ok := RSTForUnexpected(seg); ok {
		c.sendFields(f, Payload{}, false)
	}
}

// segmentInListen is RFC 9293 3.10.7.2, the passive side of the three-way
// handshake (Figure 6, line 3: the SYN arrives, SYN+ACK goes back).
func (c *Conn) segmentInListen(seg *Segment, now time.Time) {
	// "First, check for a RST: An incoming RST segment could not be valid
	// since it could not have been sent in response to anything sent by
	// this incarnation of the connection. An incoming RST should be
	// ignored."
	if seg.Flags&FlagRST != 0 {
		return
	}
	// "Second, check for an ACK: Any acknowledgment is bad if it arrives on
	// a connection still in the LISTEN state. An acceptable reset segment
	// should be formed for any arriving ACK-bearing segment. The RST should
	// be formatted as follows: <SEQ=SEG.ACK><CTL=RST>"
	if seg.Flags&FlagACK != 0 {
		c.emit(seg.Ack, FlagRST, Payload{}, newSegment, now)
		return
	}
	// "Third, check for a SYN: ... Set RCV.NXT to SEG.SEQ+1, IRS is set to
	// SEG.SEQ, and any other control or text should be queued for
	// processing later. ISS should be selected and a SYN segment sent of
	// the form: <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>. SND.NXT is set to
	// ISS+1 and SND.UNA to ISS. The connection state should be changed to
	// SYN-RECEIVED." (The security check is not implemented. Data in the
	// SYN is not queued but dropped; the peer sends it again.)
	if seg.Flags&FlagSYN != 0 {
		if seg.Flags&FlagFIN != 0 && c.cfg.DropSYNFIN {
			return // Config.DropSYNFIN
		}
		c.irs = seg.Seq
		c.rcvNxt = seg.Seq.Add(1)
		c.takeSynOptions(seg, now)
		c.ecnTakeSYN(seg)
		c.sndWnd = int(seg.Window) // never scaled in a SYN (RFC 7323 2.2)
		c.maxSndWnd = c.sndWnd
		c.sndWl1, c.sndWl2 = seg.Seq, c.iss
		c.setState(SynReceived, EventRecvSYN)
		c.sendSYN(now)
		return
	}
	// "Fourth, other data or control: ... drop the segment and return."
}

// minSendMSS is the smallest send MSS used whatever the peer announces.
const minSendMSS = 64

// takeSynOptions records what the peer's SYN offers: its MSS (RFC 9293
// 3.7.1; 536 when absent), window scale (RFC 7323 2.2: scaling is used
// only when both SYNs carry the option; shifts above 14 are used as 14),
// SACK-permitted (RFC 2018 section 2) and timestamps (RFC 7323 3.2: used
// when both SYNs carry them; a peer that omits them gets none from us and
// the handshake goes on without).
func (c *Conn) takeSynOptions(seg *Segment, now time.Time) {
	if seg.Options.HasMSS && seg.Options.MSS > 0 {
		c.peerMSS = int(seg.Options.MSS)
	}
	// A tiny MSS would make the peer cost us a segment per few bytes; like
	// Linux (tcp_min_snd_mss) we do not go below a floor.
	c.sndMSS = max(min(c.peerMSS, c.cfg.MSS), minSendMSS)
	if seg.Options.HasWindowScale && c.offerWS {
		c.wsNegotiated = true
		c.sndShift = min(seg.Options.WindowScale, MaxWindowScale)
		c.rcvShift = c.ourWindowShift()
	} else {
		c.wsNegotiated, c.offerWS = false, false
		c.sndShift, c.rcvShift = 0, 0
	}
	c.sackOK = c.cfg.SACK && !c.synOptionsDropped && !c.cfg.NoOptions && seg.Options.SACKPermitted
	c.tsOK = c.cfg.Timestamps && !c.synOptionsDropped && !c.cfg.NoOptions && seg.Options.HasTimestamps
	if c.tsOK {
		c.tsRecent, c.tsRecentAt = seg.Options.TSVal, now
		// RFC 6691: the MSS counts data only, so options in every
		// segment come out of it.
		c.sndMSS = max(c.sndMSS-timestampsOptionLen, minSendMSS)
	}
	c.cc = newCongestionControl(c.cfg.CongestionControl, c.sndMSS)
	c.resetRecovery(c.iss)
	// Our first window: the SYN or SYN+ACK carries it unscaled.
	c.rcvRight = c.rcvNxt.Add(uint32(min(c.receiveSpace(), 0xffff)))
}

// segmentInSynSent is RFC 9293 3.10.7.3, the active side of the handshake:
// the SYN+ACK arrives and we answer with ACK (Figure 6, lines 3 and 4), or
// a bare SYN crosses ours (simultaneous open, Figure 7).
func (c *Conn) segmentInSynSent(seg *Segment, now time.Time) {
	// "First, check the ACK bit: If the ACK bit is set, If SEG.ACK =< ISS or
	// SEG.ACK > SND.NXT, send a reset (unless the RST bit is set, if so
	// drop the segment and return) <SEQ=SEG.ACK><CTL=RST> and discard the
	// segment. Return. If SND.UNA < SEG.ACK =< SND.NXT, then the ACK is
	// acceptable."
	hasACK := seg.Flags&FlagACK != 0
	if hasACK && (seg.Ack.LessThanEq(c.iss) || seg.Ack.GreaterThan(c.sndNxt)) {
		if seg.Flags&FlagRST == 0 {
			c.emit(seg.Ack, FlagRST, Payload{}, newSegment, now)
		}
		return
	}
	// "Second, check the RST bit: If the RST bit is set, If the ACK was
	// acceptable, then signal to the user "error: connection reset", drop
	// the segment, enter CLOSED state, delete TCB, and return. Otherwise
	// (no ACK), drop the segment and return."
	if seg.Flags&FlagRST != 0 {
		if hasACK {
			c.enterClosed(EventRecvRST, ErrConnectionRefused)
		}
		return
	}
	// "Third, check the security": not implemented.
	//
	// "Fourth, check the SYN bit: ... If the SYN bit is on and the security/
	// compartment is acceptable, then RCV.NXT is set to SEG.SEQ+1, IRS is
	// set to SEG.SEQ. SND.UNA should be advanced to equal SEG.ACK (if there
	// is an ACK), and any segments on the retransmission queue that are
	// thereby acknowledged should be removed."
	if seg.Flags&FlagSYN == 0 {
		// "Fifth, if neither of the SYN or RST bits is set, then drop the
		// segment and return."
		return
	}
	if seg.Flags&FlagFIN != 0 && c.cfg.DropSYNFIN {
		return // Config.DropSYNFIN
	}
	c.irs = seg.Seq
	c.rcvNxt = seg.Seq.Add(1)
	c.takeSynOptions(seg, now)
	if hasACK {
		c.ecnTakeSYNACK(seg)
		c.handleNewAck(seg, now)
	} else {
		c.ecnTakeSYN(seg) // simultaneous open
	}
	// "If SND.UNA > ISS (our SYN has been ACKed), change the connection
	// state to ESTABLISHED, form an ACK segment <SEQ=SND.NXT><ACK=RCV.NXT>
	// <CTL=ACK> and send it."  SEG.WND of a SYN is never scaled.
	if c.synAcked {
		c.sndWnd = int(seg.Window)
		c.maxSndWnd = max(c.maxSndWnd, c.sndWnd)
		c.sndWl1, c.sndWl2 = seg.Seq, seg.Ack
		c.establish(EventRecvSYNACK, now)
		c.ackNow = true
		// "If there are other controls or text in the segment, then
		// continue processing at the sixth step below where the URG bit is
		// checked."
		c.processTextAndFIN(seg.Seq.Add(1), seg.Payload, seg.Flags&FlagFIN != 0, now)
		return
	}
	// "Otherwise, enter SYN-RECEIVED, form a SYN,ACK segment
	// <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> and send it." (Figure 7.)
	c.sndWnd = int(seg.Window)
	c.maxSndWnd = max(c.maxSndWnd, c.sndWnd)
	c.sndWl1, c.sndWl2 = seg.Seq, c.iss
	c.setState(SynReceived, EventRecvSYN)
	c.sndMax = c.iss // the SYN+ACK is a new segment, not a retransmission
	c.rttTiming = false
	c.sendSYN(now)
	// "If there are other controls or text in the segment, queue them for
	// processing after the ESTABLISHED state has been reached, return."
	c.queueSynText(seg)
}

// queueSynText keeps the data and FIN of a SYN received in SYN-SENT
// (simultaneous open) until the connection is established: the data goes
// to its place in the receive ring as if out of order (it is not
// acknowledged yet: our SYN+ACK acknowledges only the SYN), and
// deliverQueuedText hands it over once ESTABLISHED is reached. What does
// not fit the window is dropped, with the FIN after it.
func (c *Conn) queueSynText(seg *Segment) {
	start := seg.Seq.Add(1)
	n := min(len(seg.Payload), int(c.receiveWindow()), c.cfg.ReassemblyLimit)
	if n > 0 {
		if _, ok := c.ooo.add(start, start.Add(uint32(n))); !ok {
			return
		}
		c.recvBuf.writeAt(c.recvBuf.len(), seg.Payload[:n])
	}
	if seg.Flags&FlagFIN != 0 && n == len(seg.Payload) {
		c.finPending, c.finSeq = true, start.Add(uint32(n))
	}
}

// deliverQueuedText makes text queued in SYN-RECEIVED readable once the
// connection is established (RFC 9293 3.10.7.3), and processes a FIN that
// followed it (3.10.7.4, eighth step). The data is acknowledged like any
// in-order data.
func (c *Conn) deliverQueuedText(now time.Time) {
	if k := c.takeInOrder(); k > 0 {
		c.unackedBytes += k
		if c.cfg.DelayedAck <= 0 {
			c.ackNow = true
		} else if c.delAckAt.IsZero() {
			c.delAckAt = now.Add(c.cfg.DelayedAck)
		}
	}
	c.processTextAndFIN(c.rcvNxt, nil, false, now)
}

// takeInOrder moves out-of-order data that now begins at RCV.NXT into the
// readable part of the receive ring and advances RCV.NXT over it. It
// returns how many bytes it moved.
func (c *Conn) takeInOrder() int {
	n := 0
	for c.ooo.n > 0 && c.ooo.r[0].start.LessThanEq(c.rcvNxt) {
		if k := c.ooo.takeFrom(c.rcvNxt); k > 0 {
			c.recvBuf.extend(k)
			c.rcvNxt = c.rcvNxt.Add(uint32(k))
			c.stats.BytesReceived += int64(k)
			n += k
		}
	}
	c.rcvRight = MaxSeq(c.rcvRight, c.rcvNxt)
	return n
}

// establish enters ESTABLISHED. RFC 6298 section 5.7: if the SYN had to be
// retransmitted and no RTT sample was taken, the RTO goes back to 3 s (or
// the configured initial RTO if larger) once data flows.
func (c *Conn) establish(cause Event, now time.Time) {
	if c.synRetransmitted && !c.hasRTT {
		c.rto, c.rtoHasSlop = max(3*time.Second, c.cfg.InitialRTO), false
	}
	c.retries = 0
	c.setState(Established, cause)
	c.armKeepAlive(now)
}

// segmentInSynchronized is RFC 9293 3.10.7.4, "Otherwise" (every state from
// SYN-RECEIVED on), in its eight steps.
func (c *Conn) segmentInSynchronized(seg *Segment, now time.Time) {
	c.keepAliveProbes = 0
	if c.cfg.KeepAlive && !c.keepAliveAt.IsZero() {
		c.armKeepAlive(now)
	}

	if c.state == TimeWait && c.segmentInTimeWaitBSD(seg, now) {
		return
	}

	if c.state == SynReceived && seg.Flags&FlagSYN != 0 && seg.Seq == c.irs {
		if seg.Flags&FlagACK == 0 {
			// The peer sent its SYN again: our SYN+ACK was lost.
			c.sendSYN(now)
			return
		}
		// Simultaneous open (Figure 7, line 6): the peer's SYN+ACK repeats
		// the SYN we already have and acknowledges ours. The SYN is old
		// sequence space; process the rest as an ACK.
		trimmed := *seg
		trimmed.Flags &^= FlagSYN
		trimmed.Seq = trimmed.Seq.Add(1)
		seg = &trimmed
	}

	// RFC 7323 section 5.3, R1 (PAWS), before the sequence test: "If there
	// is a Timestamps option in the arriving segment, SEG.TSval < TS.Recent,
	// TS.Recent is valid (see later discussion), and the RST bit is not
	// set, then treat the arriving segment as not acceptable: Send an
	// acknowledgment in reply ... and drop the segment." Section 5.5: after
	// 24 days of idleness TS.Recent is no longer valid.
	if c.tsOK && seg.Options.HasTimestamps && seg.Flags&FlagRST == 0 && tsBefore(seg.Options.TSVal, c.tsRecent) {
		if now.Sub(c.tsRecentAt) <= pawsIdleLimit {
			c.stats.PAWSRejected++
			c.ackNow = true
			return
		}
		c.tsRecent = seg.Options.TSVal // invalid TS.Recent: start again from this one
	}

	// ---- First, check sequence number. ----
	// A segment is acceptable if any of its sequence space falls in the
	// receive window [RCV.NXT, RCV.NXT+RCV.WND), with the four cases of the
	// RFC's table for zero and non-zero lengths and windows.
	seq := seg.Seq
	payload := seg.Payload
	fin := seg.Flags&FlagFIN != 0
	old := c.cfg.ProcessOldACKs && seg.Flags&(FlagRST|FlagSYN) == 0 &&
		seg.Seq.LessThan(c.rcvNxt) && seg.Seq.Add(seg.Len()).LessThanEq(c.rcvNxt)
	if old {
		// Config.ProcessOldACKs: a duplicate is trimmed below (to nothing
		// at RCV.NXT) and its ACK field processed; the ACK "to
		// resynchronize" goes out unless that ACK ends the connection
		// (LAST-ACK) or its sending half (CLOSING to TIME-WAIT), where
		// 4.4BSD has given up the control block it would send from.
		c.ackNow = true
	} else if !c.acceptable(seg) {
		// "If an incoming segment is not acceptable, an acknowledgment
		// should be sent in reply (unless the RST bit is set, if so drop the
		// segment and return): <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>"
		if seg.Flags&FlagRST != 0 {
			c.stats.RSTsIgnored++ // RFC 5961 3.2: outside the window, silently dropped
		} else if seg.Flags&FlagSYN != 0 && c.state != SynReceived {
			// Fourth step: a SYN draws a challenge ACK "irrespective of
			// the sequence number" (RFC 5961 4.2).
			c.challengeACK(now)
		} else {
			c.ackNow = true
			// A segment entirely below RCV.NXT was received twice: report
			// it in a D-SACK block (RFC 2883 section 4, case 1).
			if n := len(seg.Payload); n > 0 && c.sackOK && seg.Seq.Add(uint32(n)).LessThanEq(c.rcvNxt) {
				c.reportDuplicate(seg.Seq, seg.Seq.Add(uint32(n)))
			}
			// "If the RCV.WND is zero, no segments will be acceptable, but
			// special allowance should be made to accept valid ACKs": data
			// sent into our zero window still acknowledges our data and
			// may update the peer's window.
			if seg.Seq == c.rcvNxt && seg.Flags&(FlagACK|FlagSYN) == FlagACK && c.state.synchronized() {
				c.lastHeard = now
				if len(seg.Payload) > 0 {
					c.ecnReceiveWindowProbe(seg) // data at RCV.NXT refused: a window probe
				}
				c.processAck(seg, false, now)
			}
			// A retransmitted FIN in TIME-WAIT restarts the 2 MSL wait
			// (eighth step, TIME-WAIT).
			if c.state == TimeWait && fin {
				c.timeWaitAt = now.Add(2 * c.cfg.MSL)
			}
		}
		return
	}
	c.lastHeard = now
	c.noteReceiveRTT(seg, now)
	c.ecnReceive(seg)
	// RFC 7323 section 4.3 (R3): "If SEG.TSval >= TS.Recent and SEG.SEQ =<
	// Last.ACK.sent, then SEG.TSval is copied to TS.Recent" - only a
	// segment that covers the left edge of the window we acknowledged, so
	// that delayed ACKs and holes echo the earliest time (section 4.3's
	// cases).
	if c.tsOK && seg.Options.HasTimestamps && !tsBefore(seg.Options.TSVal, c.tsRecent) &&
		seg.Seq.LessThanEq(c.lastAckSent) {
		c.tsRecent, c.tsRecentAt = seg.Options.TSVal, now
	}
	// "In the following it is assumed that the segment is the idealized
	// segment that begins at RCV.NXT and does not exceed the window."
	// Trim what lies before RCV.NXT (already received) and after the
	// window; keep a segment that starts later (it is out of order).
	if seg.Flags&FlagSYN != 0 {
		seq = seq.Add(1)
	}
	if seq.LessThan(c.rcvNxt) {
		d := c.rcvNxt.Sub(seq)
		if len(payload) > 0 && c.sackOK {
			c.reportDuplicate(seq, MinSeq(c.rcvNxt, seq.Add(uint32(len(payload)))))
		}
		if d > uint32(len(payload)) {
			fin = false // the FIN, too, was received before
			payload = payload[len(payload):]
		} else {
			payload = payload[d:]
		}
		seq = c.rcvNxt
	}
	// No data beyond the window, nor beyond the receive buffer: a window
	// rounded up to the window scale's unit (Config.OfferWholeBuffer) can
	// reach a few bytes past it.
	right := MinSeq(c.rcvNxt.Add(c.receiveWindow()), c.rcvNxt.Add(uint32(c.recvBuf.free())))
	if seq.Add(uint32(len(payload))).GreaterThan(right) {
		if seq.LessThan(right) {
			payload = payload[:right.Sub(seq)]
		} else {
			payload = payload[:0]
		}
		fin = false
	}

	// ---- Second, check the RST bit. ----
	if seg.Flags&FlagRST != 0 {
		c.handleRST(seg, now)
		return
	}

	// ---- Third, check security: not implemented. ----

	// ---- Fourth, check the SYN bit. ----
	if seg.Flags&FlagSYN != 0 {
		// "SYN-RECEIVED STATE: If the connection was initiated with a
		// passive OPEN, then return this connection to the LISTEN state and
		// return." (Figure 8, recovery from an old duplicate SYN.)
		if c.state == SynReceived && c.listenOpened {
			c.returnToListen(EventRecvSYN)
			return
		}
		// Config.SYNInWindowResets, RFC 793: "If the SYN is in the window
		// it is an error, send a reset, any outstanding RECEIVEs and SEND
		// should receive "reset" responses, all segment queues should be
		// flushed, the user should also receive an unsolicited general
		// "connection reset" signal, enter the CLOSED state, delete the
		// TCB, and return." (A SYN outside the window was answered with
		// an ACK in the first step.)
		if c.cfg.SYNInWindowResets && seg.Seq.InWindow(c.rcvNxt, max(c.receiveWindow(), 1)) {
			c.emit(c.sndNxt, FlagRST|FlagACK, Payload{}, newSegment, now)
			c.enterClosed(EventRecvSYN, ErrConnectionReset)
			return
		}
		// "If the SYN bit is set, irrespective of the sequence number, TCP
		// endpoints MUST send a "challenge ACK" to the remote peer:
		// <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>" (RFC 5961 section 4). A
		// genuine peer that lost its state answers it with a RST at
		// RCV.NXT; a blind attacker never sees it.
		c.challengeACK(now)
		return
	}

	// ---- Fifth, check the ACK field. ----
	// "If the ACK bit is off, drop the segment and return."
	if seg.Flags&FlagACK == 0 {
		return
	}
	before := c.state
	if !c.processAck(seg, fin && seq == c.rcvNxt, now) {
		if old && c.state != before && (c.state == Closed || c.state == TimeWait) {
			c.ackNow = false
		}
		return
	}

	// ---- Sixth, check the URG bit. ----
	// Urgent data is not supported (RFC 6093 advises new applications not
	// to use it); the urgent pointer is ignored and the data delivered
	// in-line.

	// ---- Seventh, process the segment text. ----
	// ---- Eighth, check the FIN bit. ----
	c.processTextAndFIN(seq, payload, fin, now)
}

// segmentInTimeWaitBSD handles a segment in TIME-WAIT the way 4.4BSD's
// tcp_twcheck does, as far as Config.TimeWaitIgnoresRST and
// TimeWaitACKsAll ask, and reports whether it did; otherwise the steps of
// 3.10.7.4 follow.
func (c *Conn) segmentInTimeWaitBSD(seg *Segment, now time.Time) bool {
	if seg.Flags&FlagRST != 0 {
		if c.cfg.TimeWaitIgnoresRST {
			c.stats.RSTsIgnored++ // RFC 1337 section 3, (F1)
			return true
		}
		return false
	}
	if !c.cfg.TimeWaitACKsAll || seg.Flags&FlagSYN != 0 {
		return false
	}
	if seg.Flags&FlagACK == 0 {
		return true
	}
	n := uint32(len(seg.Payload))
	if seg.Flags&FlagFIN != 0 && seg.Seq.Add(n+1) == c.rcvNxt {
		c.timeWaitAt = now.Add(2 * c.cfg.MSL) // the remote FIN again
	}
	if seg.Flags != FlagACK || n != 0 || seg.Seq != c.rcvNxt || seg.Ack != c.sndMax {
		c.ackNow = true
	}
	return true
}

// acceptable is the sequence number test of RFC 9293 3.10.7.4, first step:
//
//	Segment Length  Receive Window  Test
//	0               0               SEG.SEQ = RCV.NXT
//	0               >0              RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND
//	>0              0               not acceptable
//	>0              >0              RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND
//	                                or RCV.NXT =< SEG.SEQ+SEG.LEN-1 < RCV.NXT+RCV.WND
//
// ACKs, RSTs and URGs are processed even with a zero window ("If the
// RCV.WND is zero, no segments will be acceptable, but special allowance
// should be made to accept valid ACKs, URGs, and RSTs"): a zero-length
// segment at RCV.NXT passes the first row.
func (c *Conn) acceptable(seg *Segment) bool {
	wnd := c.receiveWindow()
	segLen := seg.Len()
	switch {
	case segLen == 0 && wnd == 0:
		return seg.Seq == c.rcvNxt
	case segLen == 0:
		// One more than the RFC's table: a zero-length segment exactly at
		// the right edge is accepted too, as Linux does (tcp_sequence).
		// A peer that filled our window sends its ACKs with SEQ = SND.NXT
		// = RCV.NXT+RCV.WND; while both sides wait on a hole, rejecting
		// them would answer ACK with ACK for ever and lose their news.
		return seg.Seq.InWindow(c.rcvNxt, wnd+1)
	case wnd == 0:
		// Data into a zero window (a window probe) is not acceptable, but
		// its ACK and window still carry news: let the ACK through.
		return false
	default:
		return seg.Seq.InWindow(c.rcvNxt, wnd) || seg.Seq.Add(segLen-1).InWindow(c.rcvNxt, wnd)
	}
}

// rstAcceptable decides whether a RST that passed the sequence test resets
// the connection (RFC 9293 3.10.7.4 "second, check the RST bit", which is
// RFC 5961 section 3.2): "1) If the RST bit is set and the sequence number
// is outside the current receive window, silently drop the segment. 2) If
// the RST bit is set and the sequence number exactly matches the next
// expected sequence number (RCV.NXT), then TCP endpoints MUST reset the
// connection ... 3) If the RST bit is set and the sequence number does not
// exactly match the next expected sequence value, yet is within the current
// receive window, TCP endpoints MUST send an acknowledgment (challenge
// ACK)". A blind attacker must now guess RCV.NXT exactly rather than land
// anywhere in the window; the genuine peer answers the challenge ACK with a
// RST at RCV.NXT. With Config.RSTInWindowResets any RST in the window
// resets, as RFC 793 said.
//
// The window here is the one the first step used, so that a RST at its
// right edge (RCV.NXT+RCV.WND, which acceptable lets through because it
// has no length) counts as outside it: it is silently dropped, as 1)
// says, and never resets.
func (c *Conn) rstAcceptable(seg *Segment, now time.Time) bool {
	if seg.Seq == c.rcvNxt {
		return true
	}
	if !seg.Seq.InWindow(c.rcvNxt, max(c.receiveWindow(), 1)) {
		c.stats.RSTsIgnored++
		return false
	}
	if c.cfg.RSTInWindowResets {
		return true
	}
	c.stats.RSTsIgnored++
	c.challengeACK(now)
	return false
}

// challengeACK sends <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> (RFC 5961
// sections 3.2, 4.2, 5.2), at most Config.ChallengeACKLimit per second
// (section 7), so that a flood of forged segments does not become a flood
// of ACKs.
func (c *Conn) challengeACK(now time.Time) {
	if limit := c.cfg.ChallengeACKLimit; limit > 0 {
		if now.Sub(c.challengeACKsSince) >= time.Second || now.Before(c.challengeACKsSince) {
			c.challengeACKsSince, c.challengeACKs = now, 0
		}
		if c.challengeACKs >= limit {
			c.stats.ChallengeACKsLimited++
			return
		}
		c.challengeACKs++
	}
	c.stats.ChallengeACKs++
	// It goes out at once and exactly as RFC 5961 gives it, also where
	// other ACKs take another form: in SYN-RECEIVED (where they ride on the
	// SYN+ACK's retransmission) and with Config.RepeatFIN. SND.MAX stands
	// for SND.NXT as in every bare ACK (see transmit).
	c.emit(c.sndMax, FlagACK, Payload{}, newSegment, now)
}

// receiveWindow is RCV.WND for the sequence tests of 3.10.7.4: the window
// we last advertised, or with Config.ReceiveWindowFromBuffer the free
// receive buffer space when that is more (except in a passive open's
// SYN-RECEIVED and in TIME-WAIT, where FreeBSD keeps no buffer).
func (c *Conn) receiveWindow() uint32 {
	w := c.rcvRight.Sub(c.rcvNxt)
	if c.cfg.ReceiveWindowFromBuffer && c.state != TimeWait &&
		(c.state != SynReceived || !(c.listenOpened || c.passiveChild)) {
		w = max(w, uint32(c.receiveSpace()))
	}
	return w
}

// handleRST is the second step of 3.10.7.4 for each state.
func (c *Conn) handleRST(seg *Segment, now time.Time) {
	if !c.rstAcceptable(seg, now) {
		return
	}
	switch c.state {
	case SynReceived:
		// "If this connection was initiated with a passive OPEN (i.e., came
		// from the LISTEN state), then return this connection to LISTEN
		// state and return. ... If this connection was initiated with an
		// active OPEN (i.e., came from SYN-SENT state), then the connection
		// was refused; signal the user "connection refused"."
		if c.listenOpened {
			c.returnToListen(EventRecvRST)
			return
		}
		if c.passiveChild {
			c.enterClosed(EventRecvRST, ErrConnectionReset)
			return
		}
		c.enterClosed(EventRecvRST, ErrConnectionRefused)
	case Established, FinWait1, FinWait2, CloseWait:
		// "If the RST bit is set, then any outstanding RECEIVEs and SEND
		// should receive "reset" responses. ... Enter the CLOSED state."
		c.enterClosed(EventRecvRST, ErrConnectionReset)
	case Closing, LastAck:
		// "If the RST bit is set, then enter the CLOSED state." Our FIN
		// (and any data before it) may not have arrived: the application
		// is told the connection was reset, as BSD (tcp_input) and Linux
		// (tcp_reset) tell it.
		c.enterClosed(EventRecvRST, ErrConnectionReset)
	default: // TimeWait: everything was acknowledged
		c.enterClosed(EventRecvRST, nil)
	}
}

// returnToListen puts a Conn opened by Listen back into LISTEN, forgetting
// the half-open connection (RFC 9293 Figure 8). It keeps its ISS; a new
// SYN+ACK from it reuses the number.
func (c *Conn) returnToListen(cause Event) {
	c.resetSequenceSpace(c.iss)
	c.sendBuf.consume(c.sendBuf.len())
	c.recvBuf.consume(c.recvBuf.len())
	c.stopTimers()
	c.setState(Listen, cause)
}

// processAck is the fifth step of 3.10.7.4 ("check the ACK field") for each
// state. finInOrder says the segment carries a FIN the eighth step will
// process. It reports whether processing should go on to the later steps.
func (c *Conn) processAck(seg *Segment, finInOrder bool, now time.Time) bool {
	if c.state == SynReceived {
		// "If SND.UNA < SEG.ACK =< SND.NXT, then enter ESTABLISHED state and
		// continue processing with the variables below set to: SND.WND <-
		// SEG.WND, SND.WL1 <- SEG.SEQ, SND.WL2 <- SEG.ACK. If the segment
		// acknowledgment is not acceptable, form a reset segment
		// <SEQ=SEG.ACK><CTL=RST> and send it."
		// This is the last leg of the three-way handshake (Figure 6, line 4).
		if !seg.Ack.GreaterThan(c.sndUna) || seg.Ack.GreaterThan(c.sndMax) {
			c.emit(seg.Ack, FlagRST, Payload{}, newSegment, now)
			return false
		}
		c.sndWnd = int(seg.Window) << c.sndShift
		c.maxSndWnd = max(c.maxSndWnd, c.sndWnd)
		c.sndWl1, c.sndWl2 = seg.Seq, seg.Ack
		c.handleNewAck(seg, now)
		c.establish(EventRecvACKOfSYN, now)
		if c.ooo.n > 0 || c.finPending {
			c.deliverQueuedText(now) // text and FIN of the peer's SYN
		}
	}

	// ESTABLISHED STATE (and the common part of the states below):
	// "If SND.UNA < SEG.ACK =< SND.NXT, then set SND.UNA <- SEG.ACK. ...
	// If the ACK is a duplicate (SEG.ACK =< SND.UNA), it can be ignored. If
	// the ACK acks something not yet sent (SEG.ACK > SND.NXT), then send an
	// ACK, drop the segment, and return." SND.MAX stands in for SND.NXT here
	// because SND.NXT steps back after a retransmission timeout.
	if seg.Ack.GreaterThan(c.sndMax) {
		c.ackNow = true
		return false
	}
	// RFC 5961 section 5.2 (and RFC 9293 3.10.7.4 fifth step): "All
	// incoming segments whose ACK value doesn't satisfy the above condition
	// MUST be discarded and an ACK sent back": the ACK must lie within
	// (SND.UNA - MAX.SND.WND) =< SEG.ACK, so that blind data injection
	// needs a plausible ACK too.
	if !c.cfg.NoACKRangeCheck && seg.Ack.LessThan(c.sndUna.Add(-uint32(max(c.maxSndWnd, 1)))) {
		c.challengeACK(now)
		return false
	}
	oldWnd, oldUna := c.sndWnd, c.sndUna
	if c.state.synchronized() {
		c.ecnOnACK(seg, now)
	}
	newlySACKed := 0
	if c.sackOK && seg.Options.SACKBlockCount > 0 {
		newlySACKed = c.takeSACKBlocks(seg, now)
	}
	if seg.Ack.GreaterThan(c.sndUna) {
		c.handleNewAck(seg, now)
	}
	// "If SND.UNA =< SEG.ACK =< SND.NXT, the send window should be
	// updated. If (SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =<
	// SEG.ACK)), set SND.WND <- SEG.WND, set SND.WL1 <- SEG.SEQ, and set
	// SND.WL2 <- SEG.ACK." (The window is scaled, RFC 7323 2.3.)
	// An ACK that advances SND.UNA updates the window too, as in Linux
	// (tcp_may_update_window): the usable window is counted from SND.UNA
	// (3.8.6.2.1), so keeping a window offered from an older ACK would move
	// its right edge past what the peer offered. A peer retransmitting old
	// data (SEG.SEQ below SND.WL1) with a new ACK does exactly that.
	if seg.Ack.GreaterThanEq(c.sndUna) && (seg.Ack.GreaterThan(oldUna) ||
		c.sndWl1.LessThan(seg.Seq) || (c.sndWl1 == seg.Seq && c.sndWl2.LessThanEq(seg.Ack))) {
		c.sndWnd = int(seg.Window) << c.sndShift
		c.maxSndWnd = max(c.maxSndWnd, c.sndWnd)
		c.sndWl1, c.sndWl2 = seg.Seq, seg.Ack
		if c.sndWnd > 0 {
			c.persistAt, c.persistBackoff = time.Time{}, 0
		}
	}
	// Duplicate ACK, RFC 5681 section 2: no data, no SYN or FIN, same
	// acknowledgment and window, and data outstanding (a zero-window probe
	// does not count as outstanding data).
	// With SACK, RFC 6675 section 2 also counts an ACK that SACKs new data.
	if seg.Ack == oldUna && len(seg.Payload) == 0 && seg.Flags&(FlagSYN|FlagFIN) == 0 &&
		c.sndNxt != c.sndUna && c.state.synchronized() &&
		((c.sndWnd == oldWnd && c.sndWnd > 0) || newlySACKed > 0) {
		c.onDuplicateAck(seg.Ack, now)
	}
	if c.state.synchronized() && c.sackOK {
		if c.tlpInFlight && seg.Ack.GreaterThanEq(c.tlpEnd) {
			c.onTLPEpisodeEnd(seg.Ack, now) // RFC 8985 7.4
		}
		c.detectLosses(now)
		c.armTLP(now)
	}

	ourFINAcked := c.finSent() && c.sndUna == c.sndMax
	switch c.state {
	case FinWait1:
		// "In addition to the processing for the ESTABLISHED state, if the
		// FIN segment is now acknowledged, then enter FIN-WAIT-2 and
		// continue processing in that state." If this segment also carries
		// the peer's FIN, the eighth step goes straight to TIME-WAIT.
		if ourFINAcked && !finInOrder {
			c.setState(FinWait2, EventRecvACKOfFIN)
			if c.appClosed {
				c.armFinWait2(now)
			}
		}
	case Closing:
		// "In addition to the processing for the ESTABLISHED state, if the
		// ACK acknowledges our FIN, then enter the TIME-WAIT state;
		// otherwise, ignore the segment."
		if ourFINAcked {
			c.enterTimeWait(EventRecvACKOfFIN, now)
		}
		return false
	case LastAck:
		// "The only thing that can arrive in this state is an
		// acknowledgment of our FIN. If our FIN is now acknowledged, delete
		// the TCB, enter the CLOSED state, and return."
		if ourFINAcked {
			c.enterClosed(EventRecvACKOfFIN, nil)
		}
		return false
	case TimeWait:
		// "The only thing that can arrive in this state is a retransmission
		// of the remote FIN. Acknowledge it, and restart the 2 MSL
		// timeout." (Handled in the first and eighth steps.)
	}
	return true
}

// handleNewAck advances SND.UNA to seg.Ack (SND.UNA < ack <= SND.MAX): it
// frees acknowledged data from the send ring, takes an RTT sample (from the
// timestamp echo, RFC 7323 section 4, or else one timed segment per RTT
// under Karn's rule, RFC 6298), feeds loss recovery and congestion control
// and restarts or stops the retransmission timer (RFC 6298 section 5.2,
// 5.3).
func (c *Conn) handleNewAck(seg *Segment, now time.Time) {
	ack := seg.Ack
	inFlight := int(c.sndMax.Sub(c.sndUna))
	acked := int(ack.Sub(c.sndUna))
	if !c.synAcked {
		acked-- // the SYN
		c.synAcked = true
		c.sndBufSeq = c.iss.Add(1)
	}
	if ack.GreaterThan(c.sndBufSeq) {
		k := min(int(ack.Sub(c.sndBufSeq)), c.sendBuf.len())
		c.sendBuf.consume(k)
		c.sndBufSeq = c.sndBufSeq.Add(uint32(k))
		c.stats.BytesAcked += int64(k)
	}
	if c.sackOK {
		c.scoreboardAck(ack, now)
	}
	c.sndUna = ack
	if c.sndNxt.LessThan(ack) {
		c.sndNxt = ack // a window probe or a go-back-N resend was acknowledged
	}
	var sample time.Duration
	switch {
	case c.tsOK && seg.Options.HasTimestamps && seg.Options.TSEcr != 0:
		// RFC 7323 section 4.1: RTTM from the echoed timestamp of every
		// ACK that advances the window, retransmissions included (the
		// echo names the transmission that got through).
		if d := int32(c.tsClock(now) - seg.Options.TSEcr); d >= 0 {
			sample = time.Duration(d) * time.Millisecond
			c.rttSampleFraction(sample, inFlight)
		}
		c.rttTiming = false
	case c.rttTiming && ack.GreaterThanEq(c.rttSeq):
		c.rttTiming = false
		sample = now.Sub(c.rttStart)
		c.rttSample(sample)
	}
	if sample > 0 && (c.minRTT == 0 || sample < c.minRTT) {
		c.minRTT = sample
	}
	if c.retries > 0 && c.hasRTT {
		// Progress after a timeout: drop the backoff and use the estimate
		// again (as BSD and Linux do). Karn's rule still holds: the
		// retransmitted segment gave no sample.
		c.setRTO(c.rtoFromEstimate())
	}
	c.retries = 0
	c.persistBackoff = 0
	c.dupAcks = 0
	if c.state.synchronized() && acked > 0 {
		grow := true
		if c.inRecovery {
			grow = c.onRecoveryAck(ack, acked, now)
		} else if ack.GreaterThan(c.recover) {
			// Keep recover just behind SND.UNA once the ACKs have passed
			// it, so that comparisons with it stay valid when sequence
			// numbers wrap around (RFC 6582 section 4 discusses this).
			c.recover = ack - 1
		}
		// RFC 3168 6.1.2: "The sending TCP SHOULD NOT increase the
		// congestion window in response to the receipt of an ECN-Echo ACK
		// packet."
		if grow && !(c.ecnOK && seg.Flags&FlagECE != 0) {
			c.cc.OnAck(AckSample{Acked: acked, InFlight: inFlight, RTT: sample, MinRTT: c.minRTT,
				Ack: ack, SndMax: c.sndMax, Now: now})
		}
	}
	if c.sndUna == c.sndMax {
		c.rtxAt = time.Time{} // 5.2: all outstanding data acknowledged
	} else {
		c.rtxAt = now.Add(c.rto) // 5.3: restart
	}
}

// rttSample updates SRTT, RTTVAR and RTO with a measurement r (RFC 6298
// sections 2.2 and 2.3, with alpha = 1/8, beta = 1/4, K = 4, and a clock
// granularity G of 1 ms), clamped to [MinRTO, MaxRTO] (2.4, 2.5).
func (c *Conn) rttSample(r time.Duration) {
	r = max(r, 0)
	if !c.hasRTT {
		c.srtt, c.rttvar, c.hasRTT = r, r/2, true
	} else {
		d := c.srtt - r
		if d < 0 {
			d = -d
		}
		c.rttvar = (3*c.rttvar + d) / 4
		c.srtt = (7*c.srtt + r) / 8
	}
	c.setRTO(c.rtoFromEstimate())
}

// rttSampleFraction is the RTT update for samples taken from every ACK
// with timestamps (RFC 7323 appendix G): with ExpectedSamples =
// ceil(FlightSize / (SMSS*2)) ACKs per RTT, alpha and beta are divided by
// it, so that a window's worth of samples moves SRTT and RTTVAR as far as
// one sample per RTT would in RFC 6298.
func (c *Conn) rttSampleFraction(r time.Duration, flight int) {
	if !c.hasRTT {
		c.rttSample(r)
		return
	}
	expected := time.Duration(max((flight+2*c.sndMSS-1)/(2*c.sndMSS), 1))
	d := c.srtt - r
	if d < 0 {
		d = -d
	}
	c.rttvar += (d - c.rttvar) / (4 * expected)
	c.srtt += (r - c.srtt) / (8 * expected)
	c.setRTO(c.rtoFromEstimate())
}

// setRTO sets the retransmission timeout to base plus Config.RTOSlop,
// within MaxRTO, and remembers that it holds the slop, so that backing off
// doubles base alone (as FreeBSD's TCPT_RANGESET adds the slop to each
// value it computes).
func (c *Conn) setRTO(base time.Duration) {
	c.rto = min(base+c.cfg.RTOSlop, c.cfg.MaxRTO)
	c.rtoHasSlop = true
}

// rtoBase is the RTO without the slop setRTO added.
func (c *Conn) rtoBase() time.Duration {
	if c.rtoHasSlop {
		return max(c.rto-c.cfg.RTOSlop, 0)
	}
	return c.rto
}

// rtoFromEstimate is RFC 6298's RTO <- SRTT + max(G, K*RTTVAR) with G = 1 ms,
// clamped to [MinRTO, MaxRTO] (2.4, 2.5).
func (c *Conn) rtoFromEstimate() time.Duration {
	const granularity = time.Millisecond
	return min(max(c.srtt+max(granularity, 4*c.rttvar), c.cfg.MinRTO), c.cfg.MaxRTO)
}

// processTextAndFIN is the seventh and eighth steps of 3.10.7.4: data that
// begins at or after RCV.NXT goes into the receive buffer (out-of-order data
// into the reassembly), then an in-order FIN closes the receive direction.
func (c *Conn) processTextAndFIN(seq Seq, payload []byte, fin bool, now time.Time) {
	// ---- Seventh, process the segment text. ----
	// "ESTABLISHED STATE, FIN-WAIT-1 STATE, FIN-WAIT-2 STATE: Once in the
	// ESTABLISHED state, it is possible to deliver segment data to user
	// RECEIVE buffers. ... Once the TCP endpoint takes responsibility for
	// the data, it advances RCV.NXT over the data accepted, and adjusts
	// RCV.WND as appropriate to the current buffer availability."
	// "CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: This should not occur since
	// a FIN has been received from the remote side. Ignore the segment
	// text."
	if len(payload) > 0 {
		switch c.state {
		case Established, FinWait1, FinWait2:
			if c.appClosed {
				// The application closed and will never read this: tell
				// the peer with a RST, as Linux does (RFC 2525 2.17).
				c.emit(c.sndNxt, FlagRST|FlagACK, Payload{}, newSegment, now)
				c.enterClosed(EventRecvDataAfterClose, ErrConnectionReset)
				return
			}
			if !c.receiveData(seq, payload, now) {
				fin = false // the data before the FIN was not all kept
			}
		}
	}

	// ---- Eighth, check the FIN bit. ----
	// "Do not process the FIN if the state is CLOSED, LISTEN, or SYN-SENT
	// since the SEG.SEQ cannot be validated." A FIN is processed when all
	// data before it has been received: at once if it is in order (or it
	// completes a gap to an earlier out-of-order FIN), or else remembered
	// until the gap before it is filled.
	if fin {
		finSeq := seq.Add(uint32(len(payload)))
		if finSeq != c.rcvNxt {
			if c.state == Established || c.state == FinWait1 || c.state == FinWait2 {
				c.finPending, c.finSeq = true, finSeq
				c.ackNow = true // out of order: a duplicate ACK at once
			}
			return
		}
	} else if !c.finPending || c.finSeq != c.rcvNxt {
		return
	}
	c.finPending = false
	if c.finRecvd {
		// A FIN after the FIN (in CLOSE-WAIT, CLOSING, LAST-ACK or
		// TIME-WAIT, at what is RCV.NXT now): the peer's byte stream has
		// ended, so nothing more occupies sequence space. Acknowledge
		// what was received, as for a retransmitted FIN.
		c.ackNow = true
		if c.state == TimeWait {
			c.timeWaitAt = now.Add(2 * c.cfg.MSL)
		}
		return
	}
	// "If the FIN bit is set, signal the user "connection closing" and
	// return any pending RECEIVEs with same message, advance RCV.NXT over
	// the FIN, and send an acknowledgment for the FIN."
	c.rcvNxt = c.rcvNxt.Add(1)
	// The FIN takes a sequence number but no buffer space: the right edge
	// moves with it, so the window offered stays what it was (as BSD and
	// Linux announce it) instead of shrinking by one.
	c.rcvRight = MaxSeq(c.rcvRight.Add(1), c.rcvNxt)
	c.finRecvd = true
	c.ackNow = true
	switch c.state {
	case SynReceived, Established:
		// "Enter the CLOSE-WAIT state."
		c.setState(CloseWait, EventRecvFIN)
	case FinWait1:
		// "If our FIN has been ACKed (perhaps in this segment), then enter
		// TIME-WAIT, start the time-wait timer, turn off the other timers;
		// otherwise, enter the CLOSING state." (Figure 13 is the latter.)
		if c.finSent() && c.sndUna == c.sndMax {
			c.enterTimeWait(EventRecvFINACKOfFIN, now)
		} else {
			c.setState(Closing, EventRecvFIN)
		}
	case FinWait2:
		// "Enter the TIME-WAIT state. Start the time-wait timer, turn off
		// the other timers." (Figure 12.)
		c.enterTimeWait(EventRecvFIN, now)
	case TimeWait:
		// "Remain in the TIME-WAIT state. Restart the 2 MSL time-wait
		// timeout."
		c.timeWaitAt = now.Add(2 * c.cfg.MSL)
	}
}

// receiveData stores data at seq (RCV.NXT <= seq, within the window) in the
// receive ring: in-order data extends what Read sees and pulls in any
// out-of-order ranges it now reaches; out-of-order data is kept, up to
// Config.ReassemblyLimit, at its final place in the ring. It decides
// between a delayed and an immediate ACK (RFC 9293 3.8.6.3, RFC 5681 4.2).
// It reports whether all of payload was kept.
func (c *Conn) receiveData(seq Seq, payload []byte, now time.Time) bool {
	if c.readShut {
		// Nobody will read it: acknowledge in-order data and drop it.
		c.ackNow = true
		if seq == c.rcvNxt {
			c.rcvNxt = c.rcvNxt.Add(uint32(len(payload)))
			c.rcvRight = MaxSeq(c.rcvRight, c.rcvNxt)
			return true
		}
		return false
	}
	off := int(seq.Sub(c.rcvNxt))
	if off > 0 {
		// Out of order: RFC 5681 4.2, "an immediate ACK SHOULD be sent when
		// an out-of-order segment arrives". The sender is recovering from
		// a loss: ACK the next segments at once too (quick ACKs).
		c.ackNow = true
		c.quickAcks = quickAckSegments
		room := c.cfg.ReassemblyLimit - c.ooo.bytes
		if room <= 0 {
			c.stats.OutOfOrderDropped++
			return false
		}
		kept := min(len(payload), room)
		added, ok := c.ooo.add(seq, seq.Add(uint32(kept)))
		if !ok {
			c.stats.OutOfOrderDropped++
			return false
		}
		if added == 0 && c.sackOK {
			c.reportDuplicate(seq, seq.Add(uint32(kept))) // RFC 2883 section 4, case 2
		}
		c.noteOutOfOrder(seq)
		c.recvBuf.writeAt(c.recvBuf.len()+off, payload[:kept])
		if kept < len(payload) {
			c.stats.OutOfOrderDropped++
			return false
		}
		return true
	}
	filledHole := c.ooo.n > 0
	c.recvBuf.writeAt(c.recvBuf.len(), payload)
	c.recvBuf.extend(len(payload))
	c.rcvNxt = c.rcvNxt.Add(uint32(len(payload)))
	c.stats.BytesReceived += int64(len(payload))
	c.takeInOrder()
	c.unackedBytes += len(payload)
	fullSized := c.cfg.MSS
	if c.tsOK {
		fullSized -= timestampsOptionLen // the peer's full segments carry TSopt
	}
	switch {
	case filledHole:
		// RFC 5681 4.2: ACK at once a segment that fills a hole.
		c.ackNow = true
		c.quickAcks = quickAckSegments
	case c.cfg.DelayedAck <= 0 || c.unackedBytes >= 2*fullSized:
		// RFC 9293 3.8.6.3: "an ACK SHOULD be generated for at least every
		// second full-sized segment".
		c.ackNow = true
	case c.quickAcks > 0:
		// After a loss the sender's window is small and its loss
		// detection (RACK, the tail loss probe) waits for ACKs: delaying
		// them would stall it. Linux's quick-ACK mode does the same.
		c.quickAcks--
		c.ackNow = true
	case c.delAckAt.IsZero():
		c.delAckAt = now.Add(c.cfg.DelayedAck)
	}
	return true
}

func (c *Conn) enterTimeWait(cause Event, now time.Time) {
	c.stopTimers()
	c.timeWaitAt = now.Add(2 * c.cfg.MSL)
	c.setState(TimeWait, cause)
}
