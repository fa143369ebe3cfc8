package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/tundra-net/tundra/internal/netns"
	"github.com/tundra-net/tundra/link"
	"github.com/tundra-net/tundra/stack"
)

func init() {
	register("demo", "bring the stack up on a TUN in its own network namespace and show it working (root)", runDemo)
}

const (
	demoKernelAddr = "198.18.0.1"
	demoStackAddr  = "198.18.0.2"
	demoTUN        = "tun0"
)

func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mtu := fs.Int("mtu", 1500, "MTU of the demo link")
	out := fs.String("out", ".", "folder for the capture (tundra-demo.pcapng)")
	count := fs.Int("count", 5, "echo requests the kernel sends")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := netns.Available(); err != nil {
		fmt.Fprintf(stderr, "tundra demo: %v\n(try: sudo go run ./cmd/tundra demo)\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d := &demo{stdout: stdout, stderr: stderr, mtu: *mtu, count: *count,
		pcapPath: filepath.Join(*out, "tundra-demo.pcapng")}
	err := d.run(ctx)
	d.cleanup()
	if err != nil {
		fmt.Fprintf(stderr, "tundra demo: %v\n", err)
		return 1
	}
	return 0
}

type demo struct {
	stdout, stderr io.Writer
	mtu, count     int
	pcapPath       string

	ns       *netns.NS
	st       *stack.Stack
	closeAll func()
}

func (d *demo) step(format string, args ...any) {
	fmt.Fprintf(d.stdout, "==> "+format+"\n", args...)
}

func (d *demo) run(ctx context.Context) error {
	name := fmt.Sprintf("tundra-demo-%d", os.Getpid())
	d.step("creating network namespace %s (no route out: nothing leaves it)", name)
	ns, err := netns.Create(name)
	if err != nil {
		return err
	}
	d.ns = ns
	d.step("creating TUN %s in it; the kernel side is %s/24, the stack will be %s", demoTUN, demoKernelAddr, demoStackAddr)
	if err := ns.AddTUN(demoTUN, demoKernelAddr+"/24", d.mtu); err != nil {
		return err
	}
	cfg := serveConfig{tunName: demoTUN, addr: netip.MustParseAddr(demoStackAddr), pcap: d.pcapPath}
	var ep link.Endpoint
	if err := ns.Do(func() error {
		var err error
		ep, err = openTUN(cfg)
		return err
	}); err != nil {
		return err
	}
	st, closeAll, err := startStack(ep, cfg, d.stderr)
	if err != nil {
		return err
	}
	d.st, d.closeAll = st, closeAll
	d.step("tundra is up as %s (MTU %d), capturing to %s", demoStackAddr, st.MTU(), d.pcapPath)

	d.step("the kernel pings tundra: ping -c %d %s", d.count, demoStackAddr)
	cmd := ns.Command(ctx, "ping", "-c", fmt.Sprint(d.count), "-i", "0.2", "-W", "2", demoStackAddr)
	cmd.Stdout, cmd.Stderr = d.stdout, d.stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	d.step("tundra's counters (like nstat):")
	stats := st.Stats()
	stats.WriteTo(d.stdout)
	return nil
}

// cleanup undoes everything run did, whatever point it reached.
func (d *demo) cleanup() {
	if d.closeAll != nil {
		d.closeAll()
		d.step("capture written: %s (open it with wireshark or tshark -r)", d.pcapPath)
	}
	if d.ns != nil {
		d.ns.Delete()
		d.step("namespace %s deleted", d.ns.Name)
	}
}
