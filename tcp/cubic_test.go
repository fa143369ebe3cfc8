package tcp

import (
	"math"
	"slices"
	"testing"
	"time"
)

// TestCubicCurveFollowsRFC9438 checks the window against RFC 9438's
// equations: after a loss at W_max = 100 segments, cwnd = beta*W_max = 70,
// K = cbrt(W_max*(1-beta)/C), W_cubic(0) = 70, the curve is back at W_max
// at t = K and grows as C*(t-K)^3 after it; fed a window of ACKs per RTT,
// cwnd tracks W_cubic(t).
func TestCubicCurveFollowsRFC9438(t *testing.T) {
	const mss = 1000
	c := NewCubic(mss)
	for c.CongestionWindow() < 100*mss {
		c.OnAck(AckSample{Acked: mss})
	}
	if c.CongestionWindow() != 100*mss {
		t.Fatalf("slow start reached %d", c.CongestionWindow())
	}
	now := epoch
	c.OnLoss(100*mss, now)
	if c.CongestionWindow() != 70*mss || c.SlowStartThreshold() != 70*mss {
		t.Fatalf("after loss cwnd %d ssthresh %d, want beta*W_max = 70 segments", c.CongestionWindow(), c.SlowStartThreshold())
	}
	wantK := math.Cbrt(100 * (1 - 0.7) / 0.4) // equation 2: about 4.217 s
	if got := c.K().Seconds(); math.Abs(got-wantK) > 1e-6 {
		t.Fatalf("K = %v s, want %v", got, wantK)
	}
	if w := c.WCubic(0); math.Abs(w-70) > 1e-9 {
		t.Fatalf("W_cubic(0) = %v, want 70", w)
	}
	if w := c.WCubic(c.K()); math.Abs(w-100) > 1e-9 {
		t.Fatalf("W_cubic(K) = %v, want W_max", w)
	}
	c.OnRecoveryEnd(now)

	// One RTT of 100 ms at a time: a window's worth of ACKs, one per
	// segment, spread over the RTT.
	const rtt = 100 * time.Millisecond
	start := now
	check := func(at time.Duration) {
		t.Helper()
		want := c.WCubic(at)
		got := float64(c.CongestionWindow()) / mss
		// cwnd aims at W_cubic(t+RTT) and moves once per ACK, so it runs a
		// little ahead of the curve; within 3 segments.
		if math.Abs(got-want) > 3 {
			t.Fatalf("at t = %v: cwnd %.1f segments, W_cubic %.1f", at, got, want)
		}
	}
	for now.Sub(start) < 7*time.Second {
		w := c.CongestionWindow() / mss
		for i := range w {
			c.OnAck(AckSample{Acked: mss, InFlight: w * mss, RTT: rtt, MinRTT: rtt, Now: now.Add(rtt * time.Duration(i) / time.Duration(w))})
		}
		now = now.Add(rtt)
		if d := now.Sub(start); d == 2*time.Second || d == 4200*time.Millisecond || d == 6*time.Second {
			check(d)
		}
	}
	if got := float64(c.CongestionWindow()) / mss; got < 100 {
		t.Fatalf("cwnd %.1f after 7 s: the convex region should be above W_max", got)
	}
}

// TestCubicFastConvergence: a loss below the previous W_max releases
// bandwidth: W_max = cwnd*(1+beta)/2 (RFC 9438 section 4.7).
func TestCubicFastConvergence(t *testing.T) {
	c := NewCubic(1000)
	c.cwnd = 100
	c.OnLoss(0, epoch)
	c.cwnd = 90
	c.OnLoss(0, epoch)
	if math.Abs(c.wMax-90*1.7/2) > 1e-9 {
		t.Fatalf("W_max %v, want %v", c.wMax, 90*1.7/2)
	}
	if math.Abs(c.ssthresh-63) > 1e-9 {
		t.Fatalf("ssthresh %v, want 63", c.ssthresh)
	}
}

// TestCubicRenoFriendly: on a short-RTT path the Reno-friendly estimate
// W_est (RFC 9438 4.3) grows faster than the cubic curve near W_max and
// takes over.
func TestCubicRenoFriendly(t *testing.T) {
	c := NewCubic(1000)
	c.cwnd = 20
	c.OnLoss(0, epoch) // W_max 20, K = cbrt(15) = 2.47 s
	now := epoch
	for range 100 { // 100 RTTs of 1 ms: the cubic curve barely moves
		w := int(c.cwnd)
		for range w {
			c.OnAck(AckSample{Acked: 1000, MinRTT: time.Millisecond, Now: now})
		}
		now = now.Add(time.Millisecond)
	}
	// W_est = 14 + alpha_cubic per RTT, about 0.53 segments per RTT.
	if c.cwnd < 14+0.5*100*0.8 {
		t.Fatalf("cwnd %.1f: Reno-friendly growth missing", c.cwnd)
	}
}

func TestCubicTimeout(t *testing.T) {
	c := NewCubic(1000)
	c.cwnd = 50
	c.OnTimeout(50000, epoch)
	if c.CongestionWindow() != 1000 || c.SlowStartThreshold() != 35000 {
		t.Fatalf("after RTO cwnd %d ssthresh %d", c.CongestionWindow(), c.SlowStartThreshold())
	}
}

// TestHyStartPlusPlusLeavesSlowStart: RTT samples rising by more than eta
// (RFC 9406: lastRoundMinRTT/8 clamped to [4, 16] ms) move slow start into
// conservative slow start, and after CSS_ROUNDS into congestion avoidance,
// without a loss.
func TestHyStartPlusPlusLeavesSlowStart(t *testing.T) {
	const mss = 1000
	c := NewCubic(mss)
	var sndMax Seq = 1
	ack := Seq(1)
	round := func(rtt time.Duration) {
		sndMax = sndMax.Add(uint32(c.CongestionWindow()))
		for ack.LessThan(sndMax) {
			ack = ack.Add(mss)
			c.OnAck(AckSample{Acked: mss, RTT: rtt, Ack: ack, SndMax: sndMax})
		}
	}
	round(40 * time.Millisecond)
	round(40 * time.Millisecond)
	if c.inCSS {
		t.Fatal("conservative slow start without an RTT increase")
	}
	round(50 * time.Millisecond) // +10 ms > eta = 5 ms
	if !c.inCSS {
		t.Fatal("still in plain slow start after the RTT rose by 10 ms")
	}
	before := c.CongestionWindow()
	round(50 * time.Millisecond)
	if grown := c.CongestionWindow() - before; grown > before/4+mss {
		t.Fatalf("conservative slow start grew %d of %d: want about a quarter", grown, before)
	}
	for range hystartCSSRounds {
		round(50 * time.Millisecond)
	}
	if c.SlowStartThreshold() == 1<<30 || c.CongestionWindow() < c.SlowStartThreshold() {
		t.Fatalf("not in congestion avoidance: cwnd %d ssthresh %d", c.CongestionWindow(), c.SlowStartThreshold())
	}
}

func TestCongestionControlRegistry(t *testing.T) {
	got := CongestionControls()
	if !slices.Contains(got, "cubic") || !slices.Contains(got, "newreno") || !slices.IsSorted(got) {
		t.Fatalf("registered %v", got)
	}
	cfg := testConfig()
	cfg.CongestionControl = "cubic"
	s := establishedWith(t, cfg, Options{})
	if st := s.c.Stats(); st.CongestionControl != "cubic" || st.CongestionWindow != 10000 {
		t.Fatalf("stats %+v", st)
	}
	cfg.CongestionControl = "no such thing"
	s = establishedWith(t, cfg, Options{})
	if st := s.c.Stats(); st.CongestionControl != DefaultCongestionControl {
		t.Fatalf("unknown name gave %q", st.CongestionControl)
	}
}
