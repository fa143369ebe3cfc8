package tcp

import (
	"math"
	"time"
)

// CUBIC constants, RFC 9438 section 4.
const (
	cubicC    = 0.4 // section 4.2: the scaling constant C
	cubicBeta = 0.7 // section 4.6: the multiplicative decrease factor
	// section 4.3: alpha_cubic = 3 * (1 - beta) / (1 + beta), the
	// Reno-friendly region's additive increase.
	cubicAlpha = 3 * (1 - cubicBeta) / (1 + cubicBeta)
)

// HyStart++ constants, RFC 9406 section 4.3.
const (
	hystartMinRTTThresh  = 4 * time.Millisecond
	hystartMaxRTTThresh  = 16 * time.Millisecond
	hystartMinRTTDivisor = 8
	hystartNRTTSample    = 8
	hystartCSSGrowthDiv  = 4
	hystartCSSRounds     = 5
)

// Cubic is CUBIC (RFC 9438), the congestion control of Linux, Windows and
// macOS, with HyStart++ (RFC 9406) to leave slow start before the first
// loss when the RTT starts to grow. The window follows
//
//	W_cubic(t) = C*(t-K)^3 + W_max,   K = cbrt(W_max*(1-beta)/C)
//
// (section 4.2, equations 1 and 2) in segments, t in seconds since the
// congestion avoidance stage began, and never falls below the Reno-friendly
// estimate W_est (section 4.3).
type Cubic struct {
	mss      int
	cwnd     float64 // segments
	ssthresh float64 // segments

	wMax       float64   // window before the last reduction, segments
	wLastMax   float64   // wMax before that (fast convergence, section 4.7)
	k          float64   // seconds
	epochStart time.Time // start of the congestion avoidance stage; zero: not started
	wEst       float64   // Reno-friendly estimate, segments
	cwndPrior  float64

	// HyStart++ (RFC 9406 section 4.2).
	hystartDone       bool // left slow start by HyStart++ or a loss
	inCSS             bool // conservative slow start
	cssRounds         int
	cssBaselineMinRTT time.Duration
	roundEnd          Seq // a round ends when this is acknowledged
	roundStarted      bool
	lastRoundMinRTT   time.Duration
	currentRoundMin   time.Duration
	rttSampleCount    int
}

// NewCubic returns CUBIC for a send MSS, starting with IW10 in slow start.
func NewCubic(mss int) *Cubic {
	return &Cubic{
		mss:      mss,
		cwnd:     float64(InitialWindow(mss)) / float64(mss),
		ssthresh: math.Inf(1),
	}
}

// Name returns "cubic".
func (c *Cubic) Name() string { return "cubic" }

// CongestionWindow returns cwnd in bytes.
func (c *Cubic) CongestionWindow() int { return int(c.cwnd * float64(c.mss)) }

// SlowStartThreshold returns ssthresh in bytes.
func (c *Cubic) SlowStartThreshold() int {
	if math.IsInf(c.ssthresh, 1) {
		return 1 << 30
	}
	return int(c.ssthresh * float64(c.mss))
}

// K returns the time, from the start of congestion avoidance, at which the
// cubic curve returns to W_max (RFC 9438 equation 2).
func (c *Cubic) K() time.Duration { return time.Duration(c.k * float64(time.Second)) }

// WCubic returns W_cubic(t) in segments (RFC 9438 equation 1).
func (c *Cubic) WCubic(t time.Duration) float64 {
	d := t.Seconds() - c.k
	return cubicC*d*d*d + c.wMax
}

// OnAck grows the window: slow start (with HyStart++) below ssthresh, the
// cubic curve or the Reno-friendly line above it (RFC 9438 4.2 - 4.5).
func (c *Cubic) OnAck(s AckSample) {
	acked := float64(s.Acked) / float64(c.mss)
	if c.cwnd < c.ssthresh {
		c.hystart(s)
		if c.inCSS {
			c.cwnd += min(acked, 1) / hystartCSSGrowthDiv
		} else {
			c.cwnd += min(acked, 1) // RFC 3465 with L = 1 SMSS
		}
		return
	}
	if c.epochStart.IsZero() {
		// Section 4.2: the stage starts now. If there was no reduction
		// yet (HyStart++ left slow start) the curve starts at cwnd.
		c.epochStart = s.Now
		if c.wMax < c.cwnd {
			c.wMax = c.cwnd
			c.k = 0
		} else {
			c.k = math.Cbrt((c.wMax - c.cwnd) / cubicC)
		}
		c.wEst = c.cwnd
	}
	t := s.Now.Sub(c.epochStart)
	// Section 4.3: W_est grows by alpha_cubic segments per window acked.
	c.wEst += cubicAlpha * acked / c.cwnd
	// Section 4.2: the target is W_cubic(t + RTT), kept within
	// [cwnd, 1.5*cwnd].
	rtt := s.MinRTT
	target := min(max(c.WCubic(t+rtt), c.cwnd), 1.5*c.cwnd)
	if c.WCubic(t) < c.wEst {
		c.cwnd = c.wEst // Reno-friendly region (4.3)
		return
	}
	// Concave and convex regions (4.4, 4.5): cwnd grows by
	// (target - cwnd)/cwnd per segment acknowledged.
	c.cwnd += (target - c.cwnd) / c.cwnd * acked
}

// hystart runs RFC 9406 section 4.2 once per ACK in slow start.
func (c *Cubic) hystart(s AckSample) {
	if c.hystartDone {
		return
	}
	if !c.roundStarted || s.Ack.GreaterThanEq(c.roundEnd) {
		// A new round: remember the last one's minimum.
		if c.roundStarted {
			c.lastRoundMinRTT = c.currentRoundMin
			if c.inCSS {
				c.cssRounds++
				if c.cssRounds >= hystartCSSRounds {
					// Section 4.2: after CSS_ROUNDS, enter congestion
					// avoidance.
					c.ssthresh = c.cwnd
					c.hystartDone = true
					return
				}
			}
		}
		c.roundStarted = true
		c.roundEnd = s.SndMax
		c.currentRoundMin = 0
		c.rttSampleCount = 0
	}
	if s.RTT <= 0 {
		return
	}
	c.rttSampleCount++
	if c.currentRoundMin == 0 || s.RTT < c.currentRoundMin {
		c.currentRoundMin = s.RTT
	}
	if c.inCSS {
		// "If currentRoundMinRTT < cssBaselineMinRTT": the RTT rise was
		// spurious, back to slow start.
		if c.rttSampleCount >= hystartNRTTSample && c.currentRoundMin < c.cssBaselineMinRTT {
			c.inCSS, c.cssRounds = false, 0
		}
		return
	}
	if c.rttSampleCount >= hystartNRTTSample && c.lastRoundMinRTT > 0 {
		eta := min(max(c.lastRoundMinRTT/hystartMinRTTDivisor, hystartMinRTTThresh), hystartMaxRTTThresh)
		if c.currentRoundMin >= c.lastRoundMinRTT+eta {
			c.inCSS = true
			c.cssBaselineMinRTT = c.currentRoundMin
			c.cssRounds = 0
		}
	}
}

// OnLoss is the multiplicative decrease of RFC 9438 section 4.6, with fast
// convergence (4.7): W_max = cwnd (less if it shrank since the last
// reduction), ssthresh = cwnd = max(cwnd*beta, 2).
func (c *Cubic) OnLoss(inFlight int, now time.Time) {
	c.reduce()
	c.cwnd = c.ssthresh
}

func (c *Cubic) reduce() {
	c.hystartDone, c.inCSS = true, false
	c.cwndPrior = c.cwnd
	if c.cwnd < c.wLastMax {
		c.wMax = c.cwnd * (1 + cubicBeta) / 2
	} else {
		c.wMax = c.cwnd
	}
	c.wLastMax = c.cwnd
	c.ssthresh = max(c.cwnd*cubicBeta, 2)
	c.k = math.Cbrt(c.wMax * (1 - cubicBeta) / cubicC)
	c.epochStart = time.Time{}
}

// OnRecoveryEnd leaves cwnd at ssthresh; the cubic epoch starts with the
// next ACK.
func (c *Cubic) OnRecoveryEnd(now time.Time) { c.cwnd = min(c.cwnd, c.ssthresh) }

// OnTimeout reduces as on loss and sets cwnd to one segment (RFC 9438
// section 4.8); slow start then runs up to the new ssthresh.
func (c *Cubic) OnTimeout(inFlight int, now time.Time) {
	c.reduce()
	c.cwnd = 1
}

// OnIdleRestart applies RFC 5681 section 4.1 and restarts the cubic epoch
// (RFC 9438 section 5.8: the idle time must not count as growth time).
func (c *Cubic) OnIdleRestart(now time.Time) {
	c.cwnd = min(c.cwnd, float64(InitialWindow(c.mss))/float64(c.mss))
	c.epochStart = time.Time{}
}
