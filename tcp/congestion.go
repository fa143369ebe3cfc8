package tcp

// congestionControl is the sender's congestion control algorithm, behind a
// small interface so that NewReno (RFC 6582), CUBIC (RFC 9438) or a
// SACK-based recovery (RFC 6675) can replace Reno later without touching
// the state machine. All amounts are in bytes.
type congestionControl interface {
	// window returns cwnd: how many bytes may be in flight.
	window() int
	// slowStartThreshold returns ssthresh.
	slowStartThreshold() int
	// onAck is called when an ACK acknowledges acked new bytes; inFlight is
	// what was outstanding before it.
	onAck(acked, inFlight int)
	// onDuplicateAck is called for each duplicate ACK (RFC 5681 section 2);
	// it returns true when the sender should fast-retransmit now.
	onDuplicateAck(inFlight int) (fastRetransmit bool)
	// inRecovery reports whether fast recovery is in progress.
	inRecovery() bool
	// onRetransmitTimeout is called when the retransmission timer expires.
	onRetransmitTimeout(inFlight int)
	// onIdleRestart is called before sending after an idle period longer
	// than the RTO (RFC 5681 section 4.1).
	onIdleRestart()
}

// reno is the congestion control of RFC 5681: slow start, congestion
// avoidance, fast retransmit and fast recovery, with the initial window of
// RFC 6928 (IW10).
type reno struct {
	mss       int
	cwnd      int
	ssthresh  int
	dupAcks   int
	recovery  bool
	bytesAckd int // bytes acknowledged during congestion avoidance, toward the next cwnd increase
}

// initialWindow returns RFC 6928's initial window: min(10*MSS,
// max(2*MSS, 14600)).
func initialWindow(mss int) int { return min(10*mss, max(2*mss, 14600)) }

func newReno(mss int) *reno {
	// RFC 5681 section 3.1: ssthresh starts "arbitrarily high".
	return &reno{mss: mss, cwnd: initialWindow(mss), ssthresh: 1 << 30}
}

func (r *reno) window() int             { return r.cwnd }
func (r *reno) slowStartThreshold() int { return r.ssthresh }
func (r *reno) inRecovery() bool        { return r.recovery }

func (r *reno) onAck(acked, inFlight int) {
	r.dupAcks = 0
	if r.recovery {
		// RFC 5681 section 3.2 step 6: on the ACK of new data, deflate the
		// window to ssthresh and leave fast recovery.
		r.recovery = false
		r.cwnd = r.ssthresh
		return
	}
	if r.cwnd < r.ssthresh {
		// Slow start (section 3.1): grow by at most SMSS per ACK (RFC 3465
		// with L=1 when counting bytes).
		r.cwnd += min(acked, r.mss)
		return
	}
	// Congestion avoidance: one SMSS per cwnd of acknowledged data (the
	// byte-counting variant of equation 3).
	r.bytesAckd += acked
	if r.bytesAckd >= r.cwnd {
		r.bytesAckd -= r.cwnd
		r.cwnd += r.mss
	}
}

func (r *reno) onDuplicateAck(inFlight int) bool {
	r.dupAcks++
	switch {
	case r.recovery:
		// Section 3.2 step 4: inflate for each segment that left the net.
		r.cwnd += r.mss
	case r.dupAcks == 3:
		// Section 3.2 steps 2 and 3: halve, retransmit, inflate by 3.
		r.ssthresh = max(inFlight/2, 2*r.mss)
		r.cwnd = r.ssthresh + 3*r.mss
		r.recovery = true
		return true
	}
	return false
}

func (r *reno) onRetransmitTimeout(inFlight int) {
	// Section 3.1 equation 4 and the loss window of one segment.
	r.ssthresh = max(inFlight/2, 2*r.mss)
	r.cwnd = r.mss
	r.dupAcks = 0
	r.recovery = false
	r.bytesAckd = 0
}

func (r *reno) onIdleRestart() {
	// Section 4.1: restart window = min(IW, cwnd).
	r.cwnd = min(r.cwnd, initialWindow(r.mss))
}
