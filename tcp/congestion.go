package tcp

// congestionControl is the sender's congestion control algorithm, behind a
// small interface so that CUBIC (RFC 9438) or a SACK-based recovery (RFC
// 6675, RACK-TLP RFC 8985) can replace it later without touching the state
// machine. Amounts are in bytes; sequence numbers let an algorithm tell a
// partial from a full acknowledgment.
type congestionControl interface {
	// window returns how many bytes may be in flight now: cwnd, plus what
	// limited transmit allows after one or two duplicate ACKs.
	window() int
	// congestionWindow returns cwnd itself, for Stats.
	congestionWindow() int
	// slowStartThreshold returns ssthresh.
	slowStartThreshold() int
	// onAck is called when an ACK acknowledges acked new bytes, up to ack;
	// inFlight is what was outstanding before it. It returns true when the
	// sender should retransmit the oldest unacknowledged segment now.
	onAck(ack Seq, acked, inFlight int) (retransmit bool)
	// onDuplicateAck is called for each duplicate ACK (RFC 5681 section 2)
	// of ack, with sndMax the highest sequence number sent. It returns true
	// when the sender should fast-retransmit the oldest segment now.
	onDuplicateAck(ack, sndMax Seq, inFlight int) (fastRetransmit bool)
	// inRecovery reports whether fast recovery is in progress.
	inRecovery() bool
	// onRetransmitTimeout is called when the retransmission timer expires.
	onRetransmitTimeout(sndMax Seq, inFlight int)
	// onIdleRestart is called before sending after an idle period longer
	// than the RTO (RFC 5681 section 4.1).
	onIdleRestart()
}

// newReno is the congestion control of RFC 5681 (slow start, congestion
// avoidance, fast retransmit, fast recovery) with the NewReno change to fast
// recovery of RFC 6582 (a partial ACK retransmits the next hole at once
// instead of waiting for a timeout), Limited Transmit (RFC 3042) and the
// initial window of RFC 6928 (IW10).
type newReno struct {
	mss      int
	cwnd     int
	ssthresh int
	dupAcks  int
	recovery bool
	recover  Seq // RFC 6582 "recover": SND.MAX when recovery (or a timeout) began
	// dupAcksAboveRecover: the duplicate ACKs acknowledge more than recover,
	// so they are news about data sent after the last recovery or timeout.
	dupAcksAboveRecover bool
	bytesAckd           int // bytes acknowledged in congestion avoidance toward the next increase
}

// initialWindow returns RFC 6928's initial window: min(10*MSS,
// max(2*MSS, 14600)).
func initialWindow(mss int) int { return min(10*mss, max(2*mss, 14600)) }

func makeNewReno(mss int, iss Seq) newReno {
	// RFC 5681 section 3.1: ssthresh starts "arbitrarily high". RFC 6582
	// section 3.2 step 1: recover starts at the initial send sequence.
	return newReno{mss: mss, cwnd: initialWindow(mss), ssthresh: 1 << 30, recover: iss}
}

func (r *newReno) congestionWindow() int { return r.cwnd }

// window is cwnd plus one segment per duplicate ACK for the first two:
// Limited Transmit (RFC 3042, recommended by RFC 5681 section 3.2) sends
// new data on them, so that a small window still produces the three
// duplicate ACKs fast retransmit needs. cwnd itself does not change.
func (r *newReno) window() int {
	if !r.recovery && r.dupAcks > 0 && r.dupAcks < 3 && r.dupAcksAboveRecover {
		return r.cwnd + r.dupAcks*r.mss
	}
	return r.cwnd
}
func (r *newReno) slowStartThreshold() int { return r.ssthresh }
func (r *newReno) inRecovery() bool        { return r.recovery }

func (r *newReno) onAck(ack Seq, acked, inFlight int) bool {
	r.dupAcks = 0
	if r.recovery {
		if ack.GreaterThanEq(r.recover) {
			// RFC 6582 section 3.2 step 3, full acknowledgment: deflate the
			// window to ssthresh and leave fast recovery.
			r.recovery = false
			r.cwnd = r.ssthresh
			return false
		}
		// Step 3, partial acknowledgment: the next hole is lost too.
		// Retransmit it now, deflate cwnd by the amount acknowledged and add
		// back one SMSS if that was at least one SMSS.
		r.cwnd = max(r.cwnd-acked, r.mss)
		if acked >= r.mss {
			r.cwnd += r.mss
		}
		return true
	}
	if ack.GreaterThan(r.recover) {
		// Keep recover just behind SND.UNA once the ACKs have passed it, so
		// that the comparisons with it stay valid when sequence numbers wrap
		// around (RFC 6582 section 4 discusses this wrap).
		r.recover = ack - 1
	}
	if r.cwnd < r.ssthresh {
		// Slow start (RFC 5681 section 3.1): grow by at most SMSS per ACK
		// (byte counting with L = 1 SMSS, RFC 3465).
		r.cwnd += min(acked, r.mss)
		return false
	}
	// Congestion avoidance: one SMSS per cwnd of acknowledged data (the
	// byte-counting form of equation 3).
	r.bytesAckd += acked
	if r.bytesAckd >= r.cwnd {
		r.bytesAckd -= r.cwnd
		r.cwnd += r.mss
	}
	return false
}

func (r *newReno) onDuplicateAck(ack, sndMax Seq, inFlight int) bool {
	r.dupAcks++
	r.dupAcksAboveRecover = ack.GreaterThan(r.recover)
	switch {
	case r.recovery:
		// RFC 5681 section 3.2 step 4: inflate for each segment that left
		// the network.
		r.cwnd += r.mss
	case r.dupAcks == 3 && r.dupAcksAboveRecover:
		// Steps 2 and 3 (with RFC 6582 step 2's check that these ACKs are
		// not from before the last recovery or timeout): halve, record
		// recover, retransmit, inflate by the three segments that left.
		r.ssthresh = max(inFlight/2, 2*r.mss)
		r.cwnd = r.ssthresh + 3*r.mss
		r.recovery = true
		r.recover = sndMax
		return true
	}
	return false
}

func (r *newReno) onRetransmitTimeout(sndMax Seq, inFlight int) {
	// RFC 5681 section 3.1 equation 4 and a loss window of one segment;
	// RFC 6582 section 3.2 step 4: recover = the highest sequence sent.
	r.ssthresh = max(inFlight/2, 2*r.mss)
	r.cwnd = r.mss
	r.dupAcks = 0
	r.recovery = false
	r.recover = sndMax
	r.bytesAckd = 0
}

func (r *newReno) onIdleRestart() {
	// RFC 5681 section 4.1: restart window = min(IW, cwnd).
	r.cwnd = min(r.cwnd, initialWindow(r.mss))
}
