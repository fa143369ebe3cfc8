package main

import (
	"strings"
	"testing"
	"time"

	"github.com/tundra-net/tundra/sim"
	"github.com/tundra-net/tundra/tcp"
)

func TestAdditiveIncrease(t *testing.T) {
	a := NewAIMD(1000, 2, 0.5)
	a.ssthresh = 10000 // past slow start
	a.cwnd = 10000
	// One window's worth of ACKs is one round trip: +alpha segments.
	for range 10 {
		a.OnAck(tcp.AckSample{Acked: 1000})
	}
	if a.cwnd != 12000 {
		t.Errorf("after one round trip cwnd = %d, want 12000", a.cwnd)
	}
}

func TestSlowStartDoubles(t *testing.T) {
	a := NewAIMD(1000, 1, 0.5)
	start := a.cwnd
	for range start / 1000 {
		a.OnAck(tcp.AckSample{Acked: 1000})
	}
	if a.cwnd != 2*start {
		t.Errorf("slow start: %d after one round trip from %d", a.cwnd, start)
	}
}

func TestMultiplicativeDecrease(t *testing.T) {
	a := NewAIMD(1000, 1, 0.7)
	a.OnLoss(50000, time.Time{})
	if a.cwnd != 35000 || a.ssthresh != 35000 {
		t.Errorf("after a loss with 50000 in flight: cwnd %d, ssthresh %d", a.cwnd, a.ssthresh)
	}
	a.OnTimeout(2000, time.Time{})
	if a.cwnd != 1000 || a.ssthresh != 2000 {
		t.Errorf("after a timeout: cwnd %d, ssthresh %d (floor two segments)", a.cwnd, a.ssthresh)
	}
}

func TestRace(t *testing.T) {
	var out strings.Builder
	cfg := sim.Config{Seed: 1, Loss: 0.002, Delay: 20 * time.Millisecond, Rate: 20e6, Size: 2e6}
	if err := race(&out, cfg, 1, 0.5, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	for _, cc := range []string{"aimd ", "newreno ", "cubic ", "plots:"} {
		if !strings.Contains(out.String(), "\n"+cc) {
			t.Errorf("no line for %q", cc)
		}
	}
	// The registered algorithm is really the one that ran.
	cfg.CongestionControl = "aimd"
	res, err := sim.Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.CongestionControl != "aimd" {
		t.Errorf("the sender ran %q", res.CongestionControl)
	}
}
