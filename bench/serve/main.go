// Command serve is `tundra serve` for measurements: it serves the same
// benchmark services (internal/services) on an existing TUN device, and
// adds the switches that tundra serve does not have, so that bench/run.sh
// can compare link-layer choices under compare.sh's workloads and profile
// the stack while it runs.
//
//	serve -tun tunb -addr 198.18.0.2 [-mtu M] [-offloads=false] [-cpuprofile FILE]
//
// -offloads=false opens the TUN with tun.Options.DisableOffloads (plain
// packets, as before offloads existed); -cpuprofile writes a CPU profile
// (go tool pprof) covering the whole run, written when the process gets
// SIGINT or SIGTERM, as compare.sh sends at the end.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/tundra-net/tundra/internal/services"
	"github.com/tundra-net/tundra/link/tun"
	"github.com/tundra-net/tundra/stack"
)

func main() {
	tunName := flag.String("tun", "", "existing TUN device to attach to (required)")
	addr := flag.String("addr", "", "the stack's IPv4 address (required)")
	mtu := flag.Int("mtu", 0, "MTU, at most the device's (default: the device's)")
	offloads := flag.Bool("offloads", true, "open the TUN with IFF_VNET_HDR offloads (TSO4, checksum)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	sample := flag.Duration("ss", 0, "every this often, print the loss-recovery counters of each connection that has sent data (like ss -ti)")
	flag.Parse()
	a, err := netip.ParseAddr(*addr)
	if *tunName == "" || err != nil || !a.Is4() {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*tunName, a, *mtu, *offloads, *cpuprofile, *sample); err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
}

func run(tunName string, addr netip.Addr, mtu int, offloads bool, cpuprofile string, sample time.Duration) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ep, err := tun.Open(tunName, tun.Options{MTU: mtu, DisableOffloads: !offloads})
	if err != nil {
		return err
	}
	st, err := stack.New(ep, stack.Options{Addresses: []netip.Addr{addr}})
	if err != nil {
		ep.Close()
		return err
	}
	defer st.Close()
	running, err := services.Start(st, services.Config{})
	if err != nil {
		return err
	}
	fmt.Printf("serve: %v on %s, MTU %d, MaxPacketSize %d, offloads %+v\n", addr, tunName, st.MTU(), ep.MaxPacketSize(), ep.Offloads())
	if sample > 0 {
		go printConnections(ctx, st, sample)
	}
	<-ctx.Done()
	running.Stop()
	return nil
}

// printConnections prints, every interval until ctx ends, one line per
// connection that has sent data: its congestion state and the counters of
// its loss recovery, for comparing a run under loss with the kernel's
// (nstat, ss -ti).
func printConnections(ctx context.Context, st *stack.Stack, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, c := range st.TCPConnections() {
			s := c.Stats
			if s.BytesSent == 0 {
				continue
			}
			fmt.Printf("ss: %v %v sent=%d cwnd=%d ssthresh=%d srtt=%v rto=%v inflight=%d retrans=%d timeouts=%d fastretrans=%d tlp=%d tlprecov=%d sackblocks=%d dsacks=%d reordering=%d\n",
				c.Remote, s.State, s.BytesSent, s.CongestionWindow, s.SlowStartThresh, s.SRTT, s.RTO, s.BytesInFlight,
				s.Retransmissions, s.Timeouts, s.FastRetransmits, s.TailLossProbes, s.TLPRecoveries, s.SACKBlocksReceived, s.DSACKsReceived, s.ReorderingSeen)
		}
	}
}
