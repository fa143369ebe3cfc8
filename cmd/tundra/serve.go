package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tundra-net/tundra/internal/services"
	"github.com/tundra-net/tundra/link"
	"github.com/tundra-net/tundra/link/pcap"
	"github.com/tundra-net/tundra/link/tun"
	"github.com/tundra-net/tundra/stack"
)

func init() {
	register("serve", "serve the benchmark services on an existing TUN device", runServe)
}

// serveConfig is what `tundra serve` and `tundra demo` share: a TUN, an
// address, an optional capture.
type serveConfig struct {
	tunName string
	addr    netip.Addr
	mtu     int
	pcap    string
	water   bool
	// busyPoll is stack.Options.BusyPoll (0: the default).
	busyPoll time.Duration
}

func runServe(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, args, stdout, stderr)
}

// serve is `tundra serve` until ctx ends (runServe: SIGINT or SIGTERM).
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tunName := fs.String("tun", "", "name of an existing TUN device to attach to (required)")
	addr := fs.String("addr", "", "the stack's own IPv4 address, not the kernel side's (required)")
	mtu := fs.Int("mtu", 0, "MTU to use, at most the device's (default: the device's)")
	pcapFile := fs.String("pcap", "", "write every packet to this pcapng file")
	water := fs.Bool("water", false, "open the TUN through github.com/songgao/water (portable, one packet per call)")
	var busyPoll busyPollFlag
	fs.Var(&busyPoll, "busypoll", "how long a TCP reader in use watches for its next data, reading the TUN itself, before it sleeps\n(stack.Options.BusyPoll: a duration such as 50us, or off, for hosts that count CPU time; default 200us)")
	stats := fs.Bool("stats", false, "print the stack's counters (like nstat) when stopped")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: tundra serve -tun NAME -addr A [-mtu M] [-pcap FILE] [-busypoll D] [-stats]")
		fmt.Fprintln(stderr, "\nAttaches to the TUN device NAME and answers as host A: ping (ICMP echo),")
		fmt.Fprintln(stderr, "TCP echo (7), discard (9), chargen (19), HTTP (80) and HTTPS (443, a fresh self-signed CA).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *tunName == "" || *addr == "" {
		fs.Usage()
		return 2
	}
	a, err := netip.ParseAddr(*addr)
	if err != nil || !a.Is4() {
		fmt.Fprintf(stderr, "tundra serve: -addr %q is not an IPv4 address\n", *addr)
		return 2
	}
	cfg := serveConfig{tunName: *tunName, addr: a, mtu: *mtu, pcap: *pcapFile, water: *water, busyPoll: time.Duration(busyPoll)}
	ep, err := openTUN(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "tundra serve: %v\n", err)
		return 1
	}
	st, closeAll, err := startStack(ep, cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "tundra serve: %v\n", err)
		return 1
	}
	running, err := services.Start(st, services.Config{})
	if err != nil {
		closeAll()
		fmt.Fprintf(stderr, "tundra serve: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "tundra: serving as %v on %s (MTU %d): ping, echo 7, discard 9, chargen 19, http 80, https 443\n", a, cfg.tunName, st.MTU())
	select {
	case <-ctx.Done():
	case <-st.Done():
		running.Stop()
		closeAll()
		fmt.Fprintf(stderr, "tundra serve: the link failed: %v\n", st.Err())
		return 1
	}
	running.Stop()
	closeAll()
	if *stats {
		counters := st.Stats()
		counters.WriteTo(stdout)
	}
	fmt.Fprintln(stdout, "tundra: stopped")
	return 0
}

// busyPollFlag is -busypoll: a duration, or "off" (a negative
// stack.Options.BusyPoll). Unset, it is 0: the stack's default.
type busyPollFlag time.Duration

func (f *busyPollFlag) String() string {
	if *f < 0 {
		return "off"
	}
	return time.Duration(*f).String()
}

func (f *busyPollFlag) Set(v string) error {
	if v == "off" {
		*f = -1
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return fmt.Errorf("want a positive duration such as 200us, or off")
	}
	*f = busyPollFlag(d)
	return nil
}

// openTUN attaches to the TUN device cfg names, in the calling thread's
// network namespace, after checking that the stack's address is not also the
// kernel side's (a common mistake: the two ends of a TUN are two hosts).
func openTUN(cfg serveConfig) (link.Endpoint, error) {
	if err := tun.CheckStackAddress(cfg.tunName, cfg.addr); err != nil {
		return nil, err
	}
	if cfg.water {
		mtu := cfg.mtu
		if mtu == 0 {
			ifi, err := net.InterfaceByName(cfg.tunName)
			if err != nil {
				return nil, err
			}
			mtu = ifi.MTU
		}
		return tun.OpenWater(cfg.tunName, mtu)
	}
	return tun.Open(cfg.tunName, tun.Options{MTU: cfg.mtu})
}

// startStack wraps ep in a capture if asked and starts a stack on it. The
// returned function stops everything and flushes the capture.
func startStack(ep link.Endpoint, cfg serveConfig, stderr io.Writer) (*stack.Stack, func(), error) {
	var capture *os.File
	if cfg.pcap != "" {
		f, err := os.Create(cfg.pcap)
		if err != nil {
			ep.Close()
			return nil, nil, err
		}
		tee, err := pcap.NewTee(ep, f, pcap.Options{Interface: cfg.tunName})
		if err != nil {
			f.Close()
			ep.Close()
			return nil, nil, err
		}
		capture, ep = f, tee
	}
	st, err := stack.New(ep, stack.Options{Addresses: []netip.Addr{cfg.addr}, BusyPoll: cfg.busyPoll})
	if err != nil {
		ep.Close()
		if capture != nil {
			capture.Close()
		}
		return nil, nil, err
	}
	closeAll := func() {
		if err := st.Close(); err != nil && !errors.Is(err, link.ErrClosed) {
			fmt.Fprintf(stderr, "tundra: close: %v\n", err)
		}
		if capture != nil {
			capture.Close()
		}
	}
	return st, closeAll, nil
}
