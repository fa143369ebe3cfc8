package tcp

import "time"

// finSent reports whether our FIN has been sent: it occupies the sequence
// number right after the last byte of data.
func (c *Conn) finSent() bool {
	return c.finQueued && c.sndMax.GreaterThan(c.dataEnd())
}

// dataEnd is the sequence number after the last byte written to the send
// buffer (where our FIN goes).
func (c *Conn) dataEnd() Seq { return c.sndBufSeq.Add(uint32(c.sendBuf.len())) }

// canReceive reports whether the state still accepts data from the peer.
func (c *Conn) canReceive() bool {
	return c.state == Established || c.state == FinWait1 || c.state == FinWait2
}

// canSendData reports whether the state lets us send data or our FIN: our
// SYN must have been acknowledged, and the FIN not yet sent past.
func (c *Conn) canSendData() bool {
	switch c.state {
	case Established, CloseWait, FinWait1, Closing, LastAck:
		return c.synAcked
	}
	return false
}

// transmit sends whatever may be sent now: new data and our FIN as the
// windows, Nagle and sender SWS avoidance allow, and an ACK if one is owed
// and no data segment carried it.
func (c *Conn) transmit(now time.Time) {
	if c.canSendData() {
		if c.inRecovery && c.sackOK {
			c.sendInRecovery(now)
		} else {
			c.sendData(now)
			if c.sackOK && c.tlpAt.IsZero() {
				c.armTLP(now)
			}
		}
	}
	if c.ackNow && c.state != Closed && c.state != Listen && c.state != SynSent {
		if c.state == SynReceived {
			c.ackNow = false // the SYN+ACK retransmission carries it
			return
		}
		if c.cfg.RepeatFIN && c.finSent() && c.sndNxt == c.sndMax && c.sndUna != c.sndMax {
			// Config.RepeatFIN: our unacknowledged FIN goes again with
			// the ACK, at its own sequence number (as 4.4BSD does).
			c.emit(c.dataEnd(), FlagACK|FlagFIN, Payload{}, resentSegment, now)
			return
		}
		// A bare ACK carries SND.MAX, not SND.NXT: after a timeout SND.NXT
		// steps back, and an ACK from behind the peer's RCV.NXT would be
		// unacceptable to it, drawing an ACK in return, for ever (BSD does
		// the same for this reason).
		c.emit(c.sndMax, FlagACK, Payload{}, newSegment, now)
	}
}

// sendData sends new segments from SND.NXT while the usable window allows:
// usable = min(SND.WND, cwnd) - (SND.NXT - SND.UNA).
//
// Sender SWS avoidance (RFC 9293 3.8.6.2.1) and Nagle (3.7.4) decide about
// a segment shorter than the MSS: it goes only if it carries all the queued
// data and nothing is unacknowledged (or NoDelay is set, or the FIN
// follows), or if it is at least half the largest window the peer ever
// offered. When data waits but nothing is in flight to bring an ACK, the
// persist timer is armed: it probes a zero window (3.8.6.1) and overrides
// SWS avoidance when it fires.
func (c *Conn) sendData(now time.Time) {
	if c.sndNxt == c.sndUna && !c.lastSend.IsZero() && now.Sub(c.lastSend) > c.rto {
		c.cc.OnIdleRestart(now) // RFC 5681 section 4.1
	}
	for {
		offset := int(c.sndNxt.Sub(c.sndBufSeq))
		pending := c.sendBuf.len() - offset
		// The FIN goes (again) when SND.NXT has not passed it: after a
		// timeout SND.NXT steps back before it.
		finToSend := c.finQueued && c.sndNxt.LessThanEq(c.dataEnd())
		if pending <= 0 && !finToSend {
			break
		}
		inFlight := int(c.sndNxt.Sub(c.sndUna))
		usable := min(c.sndWnd, c.sendWindow()) - inFlight
		n := min(pending, c.maxSegmentPayload(), max(usable, 0))
		if pending > 0 && n <= 0 {
			c.armPersistIfIdle(now)
			break
		}
		if n > c.sndMSS && n%c.sndMSS != 0 {
			// A super-segment for offload: keep the pieces full-sized unless
			// this is the end of the data and Nagle would let a short
			// segment go.
			nagleAllows := c.cfg.NoDelay || inFlight == 0 || c.finQueued
			if n < pending || !nagleAllows {
				n -= n % c.sndMSS
			}
		}
		if n < pending || (pending > 0 && n < c.sndMSS) {
			// A segment shorter than the MSS, or one that leaves data behind.
			allQueued := n == pending
			nagleAllows := c.cfg.NoDelay || inFlight == 0 || c.finQueued
			if n < c.sndMSS && !(allQueued && nagleAllows) && n < c.maxSndWnd/2 {
				c.armPersistIfIdle(now)
				break
			}
		}
		flags := FlagACK
		if n > 0 && n == pending {
			flags |= FlagPSH
		}
		if c.finQueued && n == pending {
			flags |= FlagFIN
		}
		c.sendRange(c.sndNxt, n, flags, now)
		if flags&FlagFIN != 0 {
			break
		}
	}
}

// maxSegmentPayload is the most payload one segment handed to Output may
// carry: the MSS, or with segmentation offload a multiple of it.
func (c *Conn) maxSegmentPayload() int {
	if c.cfg.GSOMaxSize > c.sndMSS {
		return c.cfg.GSOMaxSize / c.sndMSS * c.sndMSS
	}
	return c.sndMSS
}

// SendMSS returns the effective send MSS: the smaller of the peer's MSS
// option (536 without one) and Config.MSS. With Config.GSOMaxSize it is the
// GSOSize to cut super-segments into.
func (c *Conn) SendMSS() int { return c.sndMSS }

// sendRange sends n bytes of the send buffer starting at seq, with flags
// (FIN adds one to the sequence space), advancing SND.NXT and SND.MAX, and
// arms the retransmission timer if it is not running (RFC 6298 5.1).
func (c *Conn) sendRange(seq Seq, n int, flags Flags, now time.Time) {
	a, b := c.sendBuf.slices(int(seq.Sub(c.sndBufSeq)), n)
	end := seq.Add(uint32(n))
	if flags&FlagFIN != 0 {
		end = end.Add(1)
	}
	kind := newSegment
	if seq.LessThan(c.sndMax) {
		kind = resentSegment
	}
	c.recordSent(seq, end, now)
	if kind == newSegment && !c.rttTiming && !c.tsOK {
		c.rttTiming, c.rttSeq, c.rttStart = true, end, now // time one segment per RTT
	}
	c.emit(seq, flags, Payload{First: a, Second: b}, kind, now)
	c.lastSend = now
	c.stats.BytesSent += int64(n)
	c.sndNxt = MaxSeq(c.sndNxt, end)
	c.sndMax = MaxSeq(c.sndMax, end)
	if c.rtxAt.IsZero() {
		c.rtxAt = now.Add(c.rto)
	}
	c.persistAt, c.persistBackoff = time.Time{}, 0
}

// retransmitOldest resends the first unacknowledged segment (RFC 6298 5.4,
// RFC 5681 fast retransmit): up to one MSS from SND.UNA, with the FIN if it
// fits. Karn's rule: no RTT sample is taken across a retransmission.
func (c *Conn) retransmitOldest(now time.Time) {
	c.rttTiming = false
	switch c.state {
	case SynSent, SynReceived:
		c.synRetransmitted = true
		c.sendSYN(now)
		return
	}
	pending := c.sendBuf.len() - int(c.sndUna.Sub(c.sndBufSeq))
	// Data sent before may go again whatever the window is now; bytes never
	// sent may fill the segment only as far as the peer's window reaches
	// (RFC 9293 3.8.6.2.1).
	n := min(max(pending, 0), c.sndMSS, max(int(c.sndMax.Sub(c.sndUna)), c.sndWnd))
	flags := FlagACK
	if n > 0 && n == pending {
		flags |= FlagPSH
	}
	if c.finQueued && n == pending {
		flags |= FlagFIN
	}
	if n == 0 && flags&FlagFIN == 0 {
		return
	}
	c.sendRange(c.sndUna, n, flags, now)
}

// armPersistIfIdle starts the persist timer when data waits, the window does
// not let it go, and nothing is in flight whose ACK would reopen it (RFC
// 9293 3.8.6.1). The interval backs off exponentially up to MaxRTO.
func (c *Conn) armPersistIfIdle(now time.Time) {
	if c.sndNxt != c.sndUna || !c.persistAt.IsZero() {
		return
	}
	c.rtxAt = time.Time{}
	c.persistAt = now.Add(c.persistInterval())
}

func (c *Conn) persistInterval() time.Duration {
	d := max(c.rto, c.cfg.MinRTO)
	for i := 0; i < c.persistBackoff && d < c.cfg.MaxRTO; i++ {
		d *= 2
	}
	return min(d, c.cfg.MaxRTO)
}

// windowToAdvertise returns the window field for an outgoing non-SYN
// segment, moving the right edge RCV.NXT+RCV.WND forward only when that
// opens the window by at least min(half the buffer, one MSS): receiver SWS
// avoidance, RFC 9293 3.8.6.2.2. The right edge never moves back (3.8.6.2.2,
// "shrinking the window is strongly discouraged").
//
// With Config.OfferWholeBuffer every segment offers all the free space
// instead, unless that is less than min(buffer/4, MSS), and the window
// field is rounded up to the window scale's unit rather than down.
func (c *Conn) windowToAdvertise() uint16 {
	if c.cfg.OfferWholeBuffer {
		unit := 1 << c.rcvShift
		space := c.receiveSpace()
		if space >= min(c.recvBuf.cap()/4, c.cfg.MSS) {
			potential := min((space+unit-1)&^(unit-1), 0xffff<<c.rcvShift)
			c.rcvRight = MaxSeq(c.rcvRight, c.rcvNxt.Add(uint32(potential)))
		}
		return uint16(min((int(c.rcvRight.Sub(c.rcvNxt))+unit-1)>>c.rcvShift, 0xffff))
	}
	if c.windowWouldOpen() {
		potential := min(c.receiveSpace(), 0xffff<<c.rcvShift)
		potential = potential >> c.rcvShift << c.rcvShift
		c.rcvRight = MaxSeq(c.rcvRight, c.rcvNxt.Add(uint32(potential)))
	}
	return uint16(min(c.rcvRight.Sub(c.rcvNxt)>>c.rcvShift, 0xffff))
}

// windowWouldOpen reports whether free buffer space exceeds the advertised
// window by the receiver SWS threshold.
func (c *Conn) windowWouldOpen() bool {
	if c.readShut {
		return false
	}
	cur := int(c.rcvRight.Sub(c.rcvNxt))
	potential := min(c.receiveSpace(), 0xffff<<c.rcvShift)
	threshold := min(c.recvBuf.cap()/2, c.cfg.MSS)
	// RFC 9293 3.8.6.2.2 asks for an update once the window can grow by
	// min(RCV.BUFF/2, MSS). While the window offered is still large, the
	// ACKs that data segments draw already carry every increase, so a
	// separate update is sent only when the window at least doubles, as
	// Linux does (tcp_cleanup_rbuf): one update per application Read was
	// most of the CPU a bulk receiver spent.
	return potential-cur >= threshold && potential >= 2*cur
}

// A segmentKind says what a segment carries, for the choices that depend on
// it: whether it counts as a retransmission, and whether it may go out
// ECN-capable (RFC 3168 6.1.4 - 6.1.6, ecnMark).
type segmentKind uint8

// The segment kinds.
const (
	newSegment    segmentKind = iota // control, or data never sent before
	resentSegment                    // a SYN, data or FIN sent before: a retransmission
	windowProbe                      // the first probe of a zero window (RFC 9293 3.8.6.1)
)

// emit hands one segment to Output. Every segment with ACK carries RCV.NXT
// and our current window, so it also settles any pending (delayed) ACK.
func (c *Conn) emit(seq Seq, flags Flags, payload Payload, kind segmentKind, now time.Time) {
	f := HeaderFields{SrcPort: c.id.LocalPort, DstPort: c.id.RemotePort, Seq: seq, Flags: flags}
	if flags&FlagACK != 0 {
		f.Ack = c.rcvNxt
	}
	switch {
	case flags&FlagSYN != 0:
		// RFC 7323 2.2: "The window field in a segment where the SYN bit is
		// set MUST NOT be scaled." Our SYN carries MSS and, if enabled,
		// window scale; a SYN+ACK carries window scale only if the peer's
		// SYN did.
		if c.state == SynSent {
			f.Window = uint16(min(c.receiveSpace(), 0xffff))
		} else {
			f.Window = uint16(c.rcvRight.Sub(c.rcvNxt))
		}
		f.Flags |= c.ecnSYNFlags()
		if c.cfg.NoOptions {
			break // TCP_NOOPT: no options at all (Config.NoOptions)
		}
		f.Options.HasMSS, f.Options.MSS = true, uint16(min(c.cfg.MSS, 0xffff))
		if c.offerWS {
			f.Options.HasWindowScale, f.Options.WindowScale = true, c.ourWindowShift()
		}
		// SACK-permitted (RFC 2018 section 2) and TSopt (RFC 7323 3.2):
		// offered in our SYN, answered in a SYN+ACK only if the peer's SYN
		// offered them. Our SYN's TSecr is zero; a SYN+ACK echoes the SYN.
		if c.state == SynSent {
			f.Options.SACKPermitted = c.cfg.SACK && !c.synOptionsDropped
			if c.cfg.Timestamps && !c.synOptionsDropped {
				f.Options.HasTimestamps, f.Options.TSVal = true, c.tsClock(now)
			}
		} else {
			f.Options.SACKPermitted = c.sackOK
			if c.tsOK {
				f.Options.HasTimestamps, f.Options.TSVal, f.Options.TSEcr = true, c.tsClock(now), c.tsRecent
			}
		}
	case flags&FlagRST != 0:
		f.Window = 0
	default:
		f.Window = c.windowToAdvertise()
		c.ackOptions(&f.Options, payload.Len(), now)
		c.ecnMark(&f, payload.Len(), kind)
	}
	if flags&FlagACK != 0 {
		c.ackNow, c.unackedBytes, c.delAckAt = false, 0, time.Time{}
		c.lastAckSent = c.rcvNxt
	}
	f.Options.Layout = c.cfg.OptionLayout
	c.sendFields(f, payload, kind == resentSegment)
}

// sendFields counts a segment, tells the observer and hands it to Output.
func (c *Conn) sendFields(f HeaderFields, payload Payload, retrans bool) {
	c.stats.SegmentsSent++
	if retrans {
		c.stats.Retransmissions++
	}
	if c.obs != nil {
		c.observeSent(&f, payload.Len(), retrans)
	}
	c.out.SendSegment(c.id, f, payload)
}
