package sim

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tundra-net/tundra/trace"
)

// fingerprint prints everything a run measured, so that two runs can be
// compared byte for byte.
func fingerprint(t *testing.T, r *Result) string {
	t.Helper()
	var b strings.Builder
	r.WriteSummary(&b)
	fmt.Fprintf(&b, "%v\n%v\n%v\n", r.Congestion, r.Sent, r.Acks)
	return b.String()
}

func TestSameSeedSameOutput(t *testing.T) {
	cfg := Config{Seed: 7, Loss: 0.02, Delay: 10 * time.Millisecond, Rate: 20e6, Size: 1e6}
	var runs []string
	var ladders []string
	for range 2 {
		var ladder bytes.Buffer
		c := cfg
		c.Observe = func(tr *trace.Tracer) {
			l := trace.NewLadder(&ladder, "client", "server")
			tr.Subscribe(trace.LadderKinds, l.Handle)
		}
		res, err := Run(c)
		if err != nil {
			t.Fatal(err)
		}
		if res.Retransmissions == 0 || res.LinkLost == 0 {
			t.Fatalf("2%% loss produced no losses or retransmissions: %+v", res)
		}
		runs = append(runs, fingerprint(t, res))
		ladders = append(ladders, ladder.String())
	}
	if runs[0] != runs[1] {
		t.Errorf("two runs with the same seed differ:\n%.1000s\n---\n%.1000s", runs[0], runs[1])
	}
	if ladders[0] != ladders[1] {
		t.Errorf("the ladders of two runs with the same seed differ:\n%.1000s\n---\n%.1000s", ladders[0], ladders[1])
	}
	if !strings.Contains(ladders[0], "(retransmission)") {
		t.Errorf("the ladder shows no retransmission")
	}
	other := cfg
	other.Seed = 8
	res, err := Run(other)
	if err != nil {
		t.Fatal(err)
	}
	if fingerprint(t, res) == runs[0] {
		t.Errorf("a different seed gave the same run")
	}
}

func TestCleanLinkReachesLineRate(t *testing.T) {
	// The queue holds more than the whole receive window, so nothing is
	// tail-dropped.
	res, err := Run(Config{Delay: 5 * time.Millisecond, Rate: 10e6, RateQueue: 1000, Size: 2e6})
	if err != nil {
		t.Fatal(err)
	}
	if res.Retransmissions != 0 || res.LinkLost != 0 || res.LinkRateDropped != 0 {
		t.Errorf("a clean link with a large enough queue lost %d, dropped %d, retransmitted %d",
			res.LinkLost, res.LinkRateDropped, res.Retransmissions)
	}
	// Headers take 40 of every 1500 bytes, and slow start the first few
	// round trips: the goodput must still be most of the line rate, and
	// can never exceed it.
	if res.Goodput > 10e6*1460/1500 || res.Goodput < 7e6 {
		t.Errorf("goodput %s on a 10 Mbit/s link", FormatRate(res.Goodput))
	}
	if len(res.Congestion) < 10 {
		t.Fatalf("only %d congestion samples", len(res.Congestion))
	}
	// Slow start: once the MSS is known the window starts at RFC 6928's
	// initial window and only grows.
	iw := min(10*res.SendMSS, max(2*res.SendMSS, 14600))
	var prev int
	for _, s := range res.Congestion[1:] {
		if prev == 0 && s.CongestionWindow != iw {
			t.Fatalf("initial window %d, want %d (MSS %d)", s.CongestionWindow, iw, res.SendMSS)
		}
		if s.CongestionWindow < prev {
			t.Fatalf("cwnd shrank from %d to %d on a clean link", prev, s.CongestionWindow)
		}
		prev = s.CongestionWindow
	}
}

func TestLossShrinksTheWindow(t *testing.T) {
	res, err := Run(Config{Seed: 3, Loss: 0.03, Delay: 20 * time.Millisecond, Rate: 10e6, Size: 1e6})
	if err != nil {
		t.Fatal(err)
	}
	var shrank bool
	for i := 1; i < len(res.Congestion); i++ {
		if res.Congestion[i].CongestionWindow < res.Congestion[i-1].CongestionWindow {
			shrank = true
		}
	}
	if !shrank || res.FastRetransmits+res.Timeouts == 0 {
		t.Errorf("with 3%% loss, cwnd never shrank (fast retransmits %d, timeouts %d)", res.FastRetransmits, res.Timeouts)
	}
}

func TestCongestionControls(t *testing.T) {
	results := map[string]string{}
	for _, cc := range []string{"newreno", "cubic"} {
		res, err := Run(Config{Seed: 5, Loss: 0.005, Delay: 25 * time.Millisecond, Rate: 50e6, Size: 3e6, CongestionControl: cc})
		if err != nil {
			t.Fatalf("%s: %v", cc, err)
		}
		if res.CongestionControl != cc {
			t.Errorf("ran %q, asked for %q", res.CongestionControl, cc)
		}
		results[cc] = fingerprint(t, res)
	}
	if results["newreno"] == results["cubic"] {
		t.Errorf("newreno and cubic behaved identically")
	}
}

func TestTinyTransfers(t *testing.T) {
	// Smaller than one segment, one segment, and a few: the sender's
	// close must wait for the handshake.
	for _, size := range []int64{1, 1460, 4000} {
		res, err := Run(Config{Delay: 10 * time.Millisecond, Size: size})
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if res.Duration < 30*time.Millisecond || res.Duration > 100*time.Millisecond { // SYN, SYN+ACK, then data: 1.5 RTT
			t.Errorf("size %d took %v over a 20 ms round trip", size, res.Duration)
		}
	}
}

func TestErrors(t *testing.T) {
	if _, err := Run(Config{CongestionControl: "bbr"}); !errors.Is(err, ErrUnknownCongestionControl) {
		t.Errorf("cc bbr: %v", err)
	}
	if _, err := Run(Config{Loss: 1, Size: 1000, TimeLimit: time.Minute}); err == nil {
		t.Errorf("a link that loses everything finished a transfer")
	}
	if _, err := Run(Config{Loss: 2}); err == nil {
		t.Errorf("loss 2 accepted")
	}
}

func TestParse(t *testing.T) {
	for in, want := range map[string]int64{"10mbit": 10e6, "1.5Gbit": 1.5e9, "800kbit": 800e3, "1000": 1000} {
		if got, err := ParseRate(in); err != nil || got != want {
			t.Errorf("ParseRate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for in, want := range map[string]int64{"10MB": 10e6, "512KiB": 512 << 10, "1500": 1500, "2GB": 2e9} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"fast", "-1mbit", "10furlongs"} {
		if _, err := ParseRate(bad); err == nil {
			t.Errorf("ParseRate(%q) accepted", bad)
		}
	}
	if _, err := ParseSize("10 parsecs"); err == nil {
		t.Errorf("ParseSize accepted parsecs")
	}
}

func TestPlots(t *testing.T) {
	res, err := Run(Config{Seed: 2, Loss: 0.01, Delay: 10 * time.Millisecond, Rate: 10e6, Size: 500e3})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	paths, err := res.WritePlots(dir, "x")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 3 {
		t.Fatalf("paths %v", paths)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		if !strings.HasPrefix(s, "<svg ") || !strings.HasSuffix(s, "</svg>\n") || strings.Count(s, "<polyline")+strings.Count(s, "<rect x") < 3 {
			t.Errorf("%s is not a plot:\n%.500s", filepath.Base(p), s)
		}
	}
}

func TestNiceTicks(t *testing.T) {
	ticks, lo, hi := niceTicks(0.3, 9.2)
	if lo != 0 || hi != 10 || len(ticks) != 6 {
		t.Errorf("niceTicks(0.3, 9.2) = %v, %v, %v", ticks, lo, hi)
	}
}

// BenchmarkRun measures the simulator itself: a 1 MB transfer over a
// lossy 10 Mbit/s path, about 0.9 s of simulated time.
func BenchmarkRun(b *testing.B) {
	for b.Loop() {
		if _, err := Run(Config{Seed: 1, Loss: 0.01, Delay: 20 * time.Millisecond, Rate: 10e6, Size: 1e6}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestOffloadSendsSuperSegments: with Config.Offload the sender hands the
// link super-segments of many MSS, and the link loses each one whole
// (compare.sh's iptables drops a GSO packet from a TUN the same way);
// without it every segment is at most one MSS. Either way the transfer
// completes under loss.
func TestOffloadSendsSuperSegments(t *testing.T) {
	for _, offload := range []bool{false, true} {
		res, err := Run(Config{Seed: 1, Loss: 0.01, Delay: 150 * time.Microsecond, Rate: 3e9, Size: 8 << 20, Offload: offload})
		if err != nil {
			t.Fatalf("offload %v: %v", offload, err)
		}
		largest := 0
		for _, s := range res.Sent {
			largest = max(largest, s.Len)
		}
		if res.LinkLost == 0 || res.Retransmissions == 0 {
			t.Errorf("offload %v: 1%% loss lost nothing (%d lost, %d retransmissions)", offload, res.LinkLost, res.Retransmissions)
		}
		switch {
		case offload && largest < 10*res.SendMSS:
			t.Errorf("with offload the largest segment is %d bytes, want super-segments (MSS %d)", largest, res.SendMSS)
		case !offload && largest > res.SendMSS:
			t.Errorf("without offload a segment of %d bytes (MSS %d)", largest, res.SendMSS)
		}
		t.Logf("offload %v: %s, largest segment %d, %d packets lost, %d retransmissions, %d timeouts, %d tail loss probes",
			offload, FormatRate(res.Goodput), largest, res.LinkLost, res.Retransmissions, res.Timeouts, res.TailLossProbes)
	}
}
