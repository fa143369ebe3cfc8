// Command aimd is a congestion control algorithm small enough to write in
// an afternoon, plugged into tundra's TCP and raced against the real ones
// in the simulator.
//
// AIMD, additive increase and multiplicative decrease (Chiu and Jain,
// 1989), is the idea under TCP's congestion control: while all goes well,
// add alpha segments to the window every round trip; when a loss says the
// network is full, multiply the window by beta. Many senders doing this
// converge to a fair share of the link. RFC 5681 (NewReno's base) is
// AIMD with alpha 1 and beta 1/2, plus slow start to get going quickly;
// CUBIC (RFC 9438) replaces the linear increase with a cubic curve and
// uses beta 0.7.
//
//	go run ./examples/aimd                         # alpha 1, beta 0.5: NewReno's numbers
//	go run ./examples/aimd -alpha 4 -beta 0.8      # more aggressive
//	go run ./examples/aimd -loss 0.001 -rate 100mbit -delay 40ms
//
// The algorithm is the AIMD type below: it implements tcp.CongestionControl
// and is registered under the name "aimd" with tcp.RegisterCongestionControl,
// after which any connection whose tcp.Config.CongestionControl says "aimd"
// uses it (so does `tundra sim -cc aimd`, in a program that registers it).
// main runs the same transfer with aimd, newreno and cubic and prints how
// each did, and writes plots of aimd's window.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/tundra-net/tundra/sim"
	"github.com/tundra-net/tundra/tcp"
)

// AIMD is additive-increase, multiplicative-decrease congestion control,
// with slow start below ssthresh as in RFC 5681.
type AIMD struct {
	mss      int
	alpha    int     // segments added per round trip
	beta     float64 // the window is multiplied by it on a loss
	cwnd     int
	ssthresh int
	acked    int // bytes acknowledged toward the next increase
}

var _ tcp.CongestionControl = (*AIMD)(nil)

// NewAIMD returns the algorithm for a connection sending segments of mss
// bytes. The window starts at RFC 6928's ten segments (at most 14,600
// bytes) and ssthresh "arbitrarily high" (RFC 5681 section 3.1).
func NewAIMD(mss, alpha int, beta float64) *AIMD {
	return &AIMD{mss: mss, alpha: alpha, beta: beta,
		cwnd: min(10*mss, max(2*mss, 14600)), ssthresh: 1 << 30}
}

// Name implements tcp.CongestionControl.
func (a *AIMD) Name() string { return "aimd" }

// CongestionWindow implements tcp.CongestionControl.
func (a *AIMD) CongestionWindow() int { return a.cwnd }

// SlowStartThreshold implements tcp.CongestionControl.
func (a *AIMD) SlowStartThreshold() int { return a.ssthresh }

// OnAck grows the window: by the bytes acknowledged (at most one segment
// per ACK) in slow start, doubling it every round trip; by alpha segments
// per window of acknowledged data after that, which is alpha per round
// trip: the additive increase.
func (a *AIMD) OnAck(s tcp.AckSample) {
	if a.cwnd < a.ssthresh {
		a.cwnd += min(s.Acked, a.mss)
		return
	}
	a.acked += s.Acked
	if a.acked >= a.cwnd {
		a.acked -= a.cwnd
		a.cwnd += a.alpha * a.mss
	}
}

// OnLoss is the multiplicative decrease: the window becomes beta times
// what was in flight, and that is also the new ssthresh, so growth resumes
// linearly.
func (a *AIMD) OnLoss(inFlight int, now time.Time) {
	a.ssthresh = max(int(float64(inFlight)*a.beta), 2*a.mss)
	a.cwnd = a.ssthresh
	a.acked = 0
}

// OnRecoveryEnd leaves the window where OnLoss put it.
func (a *AIMD) OnRecoveryEnd(now time.Time) { a.cwnd = a.ssthresh }

// OnTimeout is the harsher signal: nothing came back for a whole RTO, so
// the sender starts again from one segment, in slow start up to the
// reduced ssthresh (RFC 5681 section 3.1).
func (a *AIMD) OnTimeout(inFlight int, now time.Time) {
	a.ssthresh = max(int(float64(inFlight)*a.beta), 2*a.mss)
	a.cwnd = a.mss
	a.acked = 0
}

// OnIdleRestart shrinks the window to the initial one after an idle
// period (RFC 5681 section 4.1): what the network held a while ago says
// little about now.
func (a *AIMD) OnIdleRestart(now time.Time) {
	a.cwnd = min(a.cwnd, min(10*a.mss, max(2*a.mss, 14600)))
}

func main() {
	alpha := flag.Int("alpha", 1, "segments added to the window per round trip")
	beta := flag.Float64("beta", 0.5, "factor the window is multiplied by on a loss")
	loss := flag.Float64("loss", 0.002, "packet loss probability, each direction")
	delay := flag.Duration("delay", 20*time.Millisecond, "one-way delay")
	rate := flag.String("rate", "20mbit", "link speed")
	size := flag.String("size", "5MB", "bytes to send")
	plots := flag.String("plots", "", "folder for aimd's SVG plots (empty: none)")
	flag.Parse()
	if *alpha < 1 || *beta <= 0 || *beta >= 1 {
		fmt.Fprintln(os.Stderr, "aimd: need alpha >= 1 and 0 < beta < 1")
		os.Exit(2)
	}
	r, err := sim.ParseRate(*rate)
	if err == nil {
		var n int64
		if n, err = sim.ParseSize(*size); err == nil {
			cfg := sim.Config{Seed: 1, Loss: *loss, Delay: *delay, Rate: r, Size: n}
			err = race(os.Stdout, cfg, *alpha, *beta, *plots)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "aimd:", err)
		os.Exit(1)
	}
}

// race registers AIMD with the given parameters, runs the transfer cfg
// describes with aimd, newreno and cubic, and prints a line for each.
func race(w io.Writer, cfg sim.Config, alpha int, beta float64, plots string) error {
	tcp.RegisterCongestionControl("aimd", func(mss int) tcp.CongestionControl { return NewAIMD(mss, alpha, beta) })
	fmt.Fprintf(w, "%s over %s, one-way delay %v, loss %g; aimd with alpha %d, beta %g\n",
		sim.FormatSize(cfg.Size), sim.FormatRate(float64(cfg.Rate)), cfg.Delay, cfg.Loss, alpha, beta)
	fmt.Fprintf(w, "%-8s %12s %14s %10s %16s\n", "cc", "time", "goodput", "retrans", "largest cwnd")
	for _, cc := range []string{"aimd", "newreno", "cubic"} {
		cfg.CongestionControl = cc
		res, err := sim.Run(cfg)
		if err != nil {
			return fmt.Errorf("%s: %w", cc, err)
		}
		largest := 0
		for _, s := range res.Congestion {
			largest = max(largest, s.CongestionWindow)
		}
		fmt.Fprintf(w, "%-8s %12v %14s %10d %14d B\n", cc, res.Duration.Round(time.Millisecond),
			sim.FormatRate(res.Goodput), res.Retransmissions, largest)
		if cc == "aimd" && plots != "" {
			paths, err := res.WritePlots(plots, "aimd")
			if err != nil {
				return err
			}
			fmt.Fprintln(w, "plots:", paths)
		}
	}
	return nil
}
