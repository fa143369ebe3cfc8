package tcp

import (
	"sort"
	"sync"
	"time"
)

// CongestionControl decides how many bytes a connection may have in flight:
// the congestion window of RFC 5681. It is the part of congestion control a
// student can replace in one file. Loss detection and recovery (duplicate
// ACKs, the SACK scoreboard of RFC 6675, retransmission timeouts) stay in
// the Conn, which tells the algorithm what happened:
//
//   - OnAck for data newly acknowledged outside fast recovery (window
//     growth: slow start, congestion avoidance),
//   - OnLoss once per loss episode, when fast recovery begins
//     (multiplicative decrease),
//   - OnRecoveryEnd when the episode's last byte is acknowledged,
//   - OnTimeout when the retransmission timer expires,
//   - OnIdleRestart before sending after an idle period.
//
// Amounts are bytes. Methods are called from the Conn's methods and must
// not block. Register an implementation with RegisterCongestionControl and
// select it by name with Config.CongestionControl.
type CongestionControl interface {
	// Name is the algorithm's registered name, shown in Stats.
	Name() string
	// CongestionWindow returns cwnd in bytes.
	CongestionWindow() int
	// SlowStartThreshold returns ssthresh in bytes.
	SlowStartThreshold() int
	// OnAck reports data newly acknowledged (cumulatively) while not in
	// fast recovery.
	OnAck(s AckSample)
	// OnLoss reports the start of fast recovery: a loss was detected with
	// inFlight bytes outstanding. It sets ssthresh and cwnd.
	OnLoss(inFlight int, now time.Time)
	// OnRecoveryEnd reports that fast recovery is over.
	OnRecoveryEnd(now time.Time)
	// OnTimeout reports a retransmission timeout with inFlight bytes
	// outstanding (RFC 5681 section 3.1, equation 4; cwnd becomes the loss
	// window).
	OnTimeout(inFlight int, now time.Time)
	// OnIdleRestart is called before sending after an idle period longer
	// than the RTO (RFC 5681 section 4.1).
	OnIdleRestart(now time.Time)
}

// AckSample is what an acknowledgment tells the congestion control.
type AckSample struct {
	Acked    int           // bytes newly acknowledged
	InFlight int           // bytes outstanding before this ACK
	RTT      time.Duration // the RTT sample this ACK gave, 0 if none
	MinRTT   time.Duration // the smallest RTT sample so far, 0 if none
	Ack      Seq           // the acknowledgment number (new SND.UNA)
	SndMax   Seq           // the highest sequence number sent + 1
	Now      time.Time
}

// A CongestionControlFactory makes the algorithm for one connection; mss is
// the connection's send MSS.
type CongestionControlFactory func(mss int) CongestionControl

var (
	ccMu       sync.RWMutex
	ccRegistry = map[string]CongestionControlFactory{
		"newreno": func(mss int) CongestionControl { return NewNewReno(mss) },
		"cubic":   func(mss int) CongestionControl { return NewCubic(mss) },
	}
)

// DefaultCongestionControl is the algorithm used when
// Config.CongestionControl is empty or unknown.
const DefaultCongestionControl = "cubic"

// RegisterCongestionControl makes an algorithm selectable by name with
// Config.CongestionControl. It replaces an earlier one of the same name.
func RegisterCongestionControl(name string, f CongestionControlFactory) {
	ccMu.Lock()
	defer ccMu.Unlock()
	ccRegistry[name] = f
}

// CongestionControls returns the registered names, sorted.
func CongestionControls() []string {
	ccMu.RLock()
	defer ccMu.RUnlock()
	names := make([]string, 0, len(ccRegistry))
	for n := range ccRegistry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// newCongestionControl makes the configured algorithm (or the default).
func newCongestionControl(name string, mss int) CongestionControl {
	ccMu.RLock()
	f, ok := ccRegistry[name]
	if !ok {
		f = ccRegistry[DefaultCongestionControl]
	}
	ccMu.RUnlock()
	return f(mss)
}

// InitialWindow returns RFC 6928's initial window for a send MSS:
// min(10*MSS, max(2*MSS, 14600)).
func InitialWindow(mss int) int { return min(10*mss, max(2*mss, 14600)) }

// NewReno is the congestion window of RFC 5681 (slow start with
// appropriate byte counting, RFC 3465 with L = 1 SMSS; congestion
// avoidance; halving on loss) with the initial window of RFC 6928. The
// recovery itself (fast retransmit, NewReno partial ACKs of RFC 6582, or
// RFC 6675 with SACK) is done by the Conn.
type NewReno struct {
	mss       int
	cwnd      int
	ssthresh  int
	bytesAckd int // bytes acknowledged in congestion avoidance toward the next increase
}

// NewNewReno returns NewReno for a send MSS, with cwnd = IW10 and
// ssthresh "arbitrarily high" (RFC 5681 section 3.1).
func NewNewReno(mss int) *NewReno {
	return &NewReno{mss: mss, cwnd: InitialWindow(mss), ssthresh: 1 << 30}
}

// Name returns "newreno".
func (r *NewReno) Name() string { return "newreno" }

// CongestionWindow returns cwnd.
func (r *NewReno) CongestionWindow() int { return r.cwnd }

// SlowStartThreshold returns ssthresh.
func (r *NewReno) SlowStartThreshold() int { return r.ssthresh }

// OnAck grows cwnd: by at most one SMSS per ACK in slow start (RFC 5681
// 3.1, RFC 3465), by one SMSS per cwnd of acknowledged data in congestion
// avoidance (the byte-counting form of equation 3).
func (r *NewReno) OnAck(s AckSample) {
	if r.cwnd < r.ssthresh {
		r.cwnd += min(s.Acked, r.mss)
		return
	}
	r.bytesAckd += s.Acked
	if r.bytesAckd >= r.cwnd {
		r.bytesAckd -= r.cwnd
		r.cwnd += r.mss
	}
}

// OnLoss halves: ssthresh = max(FlightSize/2, 2*SMSS) (RFC 5681 equation
// 4), cwnd = ssthresh (RFC 6675 section 5 step 4.2; the Conn adds the
// window inflation of RFC 5681 3.2 itself when the peer lacks SACK).
func (r *NewReno) OnLoss(inFlight int, now time.Time) {
	r.ssthresh = max(inFlight/2, 2*r.mss)
	r.cwnd = r.ssthresh
	r.bytesAckd = 0
}

// OnRecoveryEnd deflates the window to ssthresh (RFC 6582 section 3.2
// step 3, full acknowledgment).
func (r *NewReno) OnRecoveryEnd(now time.Time) { r.cwnd = r.ssthresh }

// OnTimeout sets ssthresh as on loss and cwnd to the loss window of one
// segment (RFC 5681 section 3.1).
func (r *NewReno) OnTimeout(inFlight int, now time.Time) {
	r.ssthresh = max(inFlight/2, 2*r.mss)
	r.cwnd = r.mss
	r.bytesAckd = 0
}

// OnIdleRestart applies RFC 5681 section 4.1: restart window = min(IW, cwnd).
func (r *NewReno) OnIdleRestart(now time.Time) { r.cwnd = min(r.cwnd, InitialWindow(r.mss)) }
