package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/tundra-net/tundra/sim"
	"github.com/tundra-net/tundra/tcp"
	"github.com/tundra-net/tundra/trace"
)

func init() {
	register("sim", "simulate a TCP transfer between two stacks in memory on a virtual clock; print a summary and plot it", runSim)
}

func runSim(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	seed := fs.Uint64("seed", 1, "seed of the link's random choices (same seed, same run)")
	loss := fs.Float64("loss", 0, "probability that a packet is lost, each direction (0 to 1)")
	delay := fs.Duration("delay", 20*time.Millisecond, "one-way delay, each direction")
	rate := fs.String("rate", "10mbit", "link speed, each direction (bit, kbit, mbit, gbit; 0 for unlimited)")
	queue := fs.Int("queue", 0, "bottleneck queue in packets (default 100)")
	size := fs.String("size", "10MB", "bytes to send (B, KB, MB, GB, KiB, MiB, GiB)")
	mtu := fs.Int("mtu", 1500, "link MTU")
	offload := fs.Bool("offload", false, "segmentation offload: the sender sends super-segments of up to 64 KB, lost or delivered whole (as a TUN with IFF_VNET_HDR)")
	cc := fs.String("cc", tcp.DefaultCongestionControl, "congestion control: "+strings.Join(tcp.CongestionControls(), ", "))
	plots := fs.String("plots", ".", "folder for the SVG plots (empty: none)")
	prefix := fs.String("prefix", "sim", "file name prefix of the plots")
	jsonPath := fs.String("trace", "", "write every event of the sender as JSON lines to this file")
	ladder := fs.Bool("ladder", false, "print every segment as a ladder (for small -size: a few KB)")
	options := fs.Bool("options", false, "with -ladder, show each segment's TCP options (MSS, window scale, SACK blocks, timestamps)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: tundra sim [-loss P] [-delay D] [-rate R] [-size N] [-cc ALG] [-seed S] [-plots DIR]")
		fmt.Fprintln(stderr, "\nRuns two tundra stacks over an in-memory link with the given loss, delay and rate,")
		fmt.Fprintln(stderr, "on a virtual clock (faster than real time; the same seed gives the same output), sends")
		fmt.Fprintln(stderr, "SIZE bytes from one to the other, prints a summary and writes plots of cwnd and")
		fmt.Fprintln(stderr, "ssthresh, RTT, and sequence numbers over time.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	r, err := sim.ParseRate(*rate)
	if err != nil {
		fmt.Fprintln(stderr, "tundra sim:", err)
		return 2
	}
	n, err := sim.ParseSize(*size)
	if err != nil {
		fmt.Fprintln(stderr, "tundra sim:", err)
		return 2
	}
	cfg := sim.Config{Seed: *seed, Loss: *loss, Delay: *delay, Rate: r, RateQueue: *queue, Size: n,
		MTU: *mtu, Offload: *offload, CongestionControl: *cc}
	if *jsonPath != "" {
		f, err := os.Create(*jsonPath)
		if err != nil {
			fmt.Fprintln(stderr, "tundra sim:", err)
			return 1
		}
		defer f.Close()
		cfg.Observe = func(t *trace.Tracer) { t.Subscribe(trace.All, trace.JSONLines(f)) }
	}
	var l *trace.Ladder
	if *ladder {
		l = trace.NewLadder(stdout, "client", "server")
		l.Options = *options
		prev := cfg.Observe
		cfg.Observe = func(t *trace.Tracer) {
			if prev != nil {
				prev(t)
			}
			t.Subscribe(trace.LadderKinds, l.Handle)
		}
	}
	res, err := sim.Run(cfg)
	if l != nil {
		l.Flush()
		fmt.Fprintln(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "tundra sim:", err)
		return 1
	}
	res.WriteSummary(stdout)
	if *plots != "" {
		paths, err := res.WritePlots(*plots, *prefix)
		if err != nil {
			fmt.Fprintln(stderr, "tundra sim:", err)
			return 1
		}
		for _, p := range paths {
			fmt.Fprintln(stdout, "plot:     ", p)
		}
	}
	return 0
}
