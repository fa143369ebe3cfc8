package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tundra-net/tundra/internal/netns"
	"github.com/tundra-net/tundra/internal/services"
	"github.com/tundra-net/tundra/link"
	"github.com/tundra-net/tundra/link/pcap"
	"github.com/tundra-net/tundra/link/tun"
	"github.com/tundra-net/tundra/stack"
	"github.com/tundra-net/tundra/tcp"
	"github.com/tundra-net/tundra/tls"
	"github.com/tundra-net/tundra/trace"
)

func init() {
	register("demo", "bring the stack up on a TUN in its own network namespace, fetch pages from it with curl, and draw the exchange (root)", runDemo)
}

const (
	demoKernelAddr = "198.18.0.1"
	demoStackAddr  = "198.18.0.2"
	demoTUN        = "tun0"
)

// The files the demo leaves in its -out folder.
const (
	demoCaptureFile = "demo.pcapng"
	demoKeyLogFile  = "keys.log"
	demoCAFile      = "ca.pem"
)

// demoOptions are the demo's flags.
type demoOptions struct {
	mtu, count int
	out        string
}

func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o demoOptions
	fs.IntVar(&o.mtu, "mtu", 1500, "MTU of the demo link")
	fs.StringVar(&o.out, "out", ".", "folder for the capture ("+demoCaptureFile+"), the TLS key log ("+demoKeyLogFile+") and the CA ("+demoCAFile+")")
	fs.IntVar(&o.count, "count", 3, "echo requests the kernel sends")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: tundra demo [-out DIR] [-mtu M] [-count N]   (as root)")
		fmt.Fprintln(stderr, "\nMakes a network namespace with a TUN device, runs tundra on it with its services,")
		fmt.Fprintln(stderr, "has the kernel ping it and fetch pages with curl over HTTP/1.0, HTTP/1.1 and HTTPS,")
		fmt.Fprintln(stderr, "and prints each TCP exchange as a textbook ladder with the state changes beside it.")
		fmt.Fprintln(stderr, "Leaves a capture and a TLS key log that Wireshark or tshark decrypt; deletes the namespace.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := netns.Available(); err != nil {
		fmt.Fprintf(stderr, "tundra demo: %v\n(try: sudo go run ./cmd/tundra demo)\n", err)
		return 1
	}
	for _, tool := range []struct{ name, pkg string }{{"curl", "curl"}, {"bash", "bash"}} {
		if _, err := exec.LookPath(tool.name); err != nil {
			fmt.Fprintf(stderr, "tundra demo: the kernel's side runs %s, which is not installed (apt-get install %s)\n", tool.name, tool.pkg)
			return 1
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runDemoContext(ctx, o, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "tundra demo: %v\n", err)
		return 1
	}
	return 0
}

// runDemoContext runs the demo until it ends or ctx is cancelled (SIGINT,
// SIGTERM), and always cleans up: services stopped, capture and key log
// closed, namespace deleted.
func runDemoContext(ctx context.Context, o demoOptions, stdout, stderr io.Writer) error {
	d := &demo{stdout: stdout, stderr: stderr, opts: o}
	err := d.run(ctx)
	d.cleanup()
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("interrupted (%v); everything was cleaned up", context.Cause(ctx))
	}
	return err
}

// demo is one run of `tundra demo` and what it must undo.
type demo struct {
	stdout, stderr io.Writer
	opts           demoOptions

	ns       *netns.NS
	capture  *os.File
	tee      *pcap.Tee
	keyLog   *os.File
	st       *stack.Stack
	tracer   *trace.Tracer
	services *services.Running
	tlsTrace lockedBuffer
}

func (d *demo) step(format string, args ...any) {
	fmt.Fprintf(d.stdout, "==> "+format+"\n", args...)
}

func (d *demo) path(name string) string { return filepath.Join(d.opts.out, name) }

func (d *demo) run(ctx context.Context) error {
	name := fmt.Sprintf("tundra-demo-%d", os.Getpid())
	d.step("creating network namespace %s (no route out: nothing leaves it)", name)
	ns, err := netns.Create(name)
	if err != nil {
		return err
	}
	d.ns = ns
	// tundra speaks IPv4 only; without this the kernel greets the new link
	// with IPv6 router solicitations, which the stack counts as errors.
	ns.Run("sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	d.step("creating TUN %s in it; the kernel side is %s/24, tundra will be %s", demoTUN, demoKernelAddr, demoStackAddr)
	if err := ns.AddTUN(demoTUN, demoKernelAddr+"/24", d.opts.mtu); err != nil {
		return err
	}
	if err := d.startStack(); err != nil {
		return err
	}
	d.step("tundra is up as %s (MTU %d): ping, echo 7, discard 9, chargen 19, HTTP 80, HTTPS 443", demoStackAddr, d.st.MTU())
	d.step("capturing to %s; TLS secrets go to %s; the CA that signed the HTTPS certificate is %s",
		d.path(demoCaptureFile), d.path(demoKeyLogFile), d.path(demoCAFile))

	d.step("the kernel pings tundra: ping -c %d %s", d.opts.count, demoStackAddr)
	if _, err := exec.LookPath("ping"); err == nil {
		cmd := ns.Command(ctx, "ping", "-c", fmt.Sprint(d.opts.count), "-i", "0.2", "-W", "2", demoStackAddr)
		cmd.Stdout, cmd.Stderr = d.stdout, d.stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("ping: %w", err)
		}
	} else if err := kernelPing(ctx, ns, demoStackAddr, d.opts.count, 200*time.Millisecond, d.stdout); err != nil {
		// A fresh machine has no iputils-ping: the kernel's side pings
		// through a raw ICMP socket of ours instead.
		return fmt.Errorf("ping: %w", err)
	}

	url := "http://" + demoStackAddr + "/"
	curl := func(args ...string) []string {
		return append([]string{"curl", "-sS", "--max-time", "10"}, args...)
	}
	// Pipelining: curl no longer pipelines, so bash writes two requests
	// at once on a connection of its own (/dev/tcp) and reads the answers.
	// (cat writes both requests with one write, so they leave in one
	// segment.)
	pipelined := `exec 3<>/dev/tcp/` + demoStackAddr + `/80; ` +
		`reqs=$(printf 'GET / HTTP/1.1\r\nHost: demo\r\n\r\nGET /bytes/8 HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r'); ` +
		`cat <<<"$reqs" >&3; timeout 10 cat <&3 | tr -d '\r' | grep -v '^Date:'`
	exchanges := []struct {
		title string
		cmd   []string
		after func()
	}{
		{"HTTP/1.0: one request per connection; tundra closes it after the response, so tundra waits in TIME-WAIT",
			curl("-0", url), nil},
		{"HTTP/1.1: two requests on one kept-alive connection; curl closes it when done, so the kernel waits in TIME-WAIT",
			curl(url, url+"bytes/16"), nil},
		{"HTTP/1.1 pipelining: two requests sent back to back, before any answer; the server answers in order",
			[]string{"bash", "-c", pipelined}, nil},
		{"HTTPS: TLS (the handshake, then encrypted records) over TCP, checked against the demo CA",
			curl("--cacert", d.path(demoCAFile), "https://"+demoStackAddr+"/"), d.printTLSTrace},
	}
	for _, x := range exchanges {
		if err := d.exchange(ctx, x.title, x.cmd); err != nil {
			return err
		}
		if x.after != nil {
			x.after()
		}
	}
	d.step("tundra's counters (like nstat):")
	stats := d.st.Stats()
	stats.WriteTo(d.stdout)
	return nil
}

// startStack opens the TUN inside the namespace and stacks the layers the
// demo watches on it: stack -> tracer's tap -> pcap tee -> TUN. The tee
// records a written packet before the kernel's answer to it can be read
// (it holds its lock across the write), so the capture keeps cause before
// effect and Wireshark can follow, and decrypt, the TLS stream.
func (d *demo) startStack() error {
	var dev link.Endpoint
	err := d.ns.Do(func() error {
		var err error
		// The plain portable open: no offloads, so every segment in the
		// capture and on the ladder is one segment on the wire, with its
		// checksum filled in (no coalesced super-packets to explain).
		dev, err = tun.OpenWater(demoTUN, d.opts.mtu)
		return err
	})
	if err != nil {
		return err
	}
	if d.capture, err = os.Create(d.path(demoCaptureFile)); err != nil {
		dev.Close()
		return err
	}
	if d.tee, err = pcap.NewTee(dev, d.capture, pcap.Options{Interface: demoTUN}); err != nil {
		dev.Close()
		return err
	}
	d.tracer = trace.New(nil)
	d.st, err = stack.New(d.tracer.Endpoint(d.tee), stack.Options{
		Addresses: []netip.Addr{netip.MustParseAddr(demoStackAddr)},
		Observer:  d.tracer,
	})
	if err != nil {
		d.tee.Close()
		return err
	}

	// HTTPS: a CA of our own signs the certificate; curl trusts the CA
	// file; the server writes every session's secrets to the key log
	// (SSLKEYLOGFILE format), which lets Wireshark decrypt the capture.
	ca, err := tls.NewCA("tundra demo CA")
	if err != nil {
		return err
	}
	issued, err := ca.IssueServer(demoStackAddr, "localhost")
	if err != nil {
		return err
	}
	if err := os.WriteFile(d.path(demoCAFile), ca.CertPEM(), 0o644); err != nil {
		return err
	}
	if d.keyLog, err = os.OpenFile(d.path(demoKeyLogFile), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600); err != nil {
		return err
	}
	d.services, err = services.Start(d.st, services.Config{TLS: &tls.Config{
		Certificates: []tls.Certificate{issued.TLSCertificate()},
		KeyLogWriter: d.keyLog,
		Trace:        tls.NewTrace(&d.tlsTrace),
	}})
	return err
}

// printTLSTrace prints the server's account of the TLS handshakes so far.
func (d *demo) printTLSTrace() {
	fmt.Fprintln(d.stdout, "The TLS handshake, as tundra's tls.Trace saw it on the server side:")
	for _, line := range strings.Split(strings.TrimRight(d.tlsTrace.String(), "\n"), "\n") {
		fmt.Fprintf(d.stdout, "  %s\n", line)
	}
	fmt.Fprintln(d.stdout)
}

// lockedBuffer is a bytes.Buffer safe for the server's goroutines to
// write while the demo reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written.
func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// exchange runs a command (curl) inside the namespace, then prints the TCP
// exchange it caused as a ladder.
func (d *demo) exchange(ctx context.Context, title string, cmd []string) error {
	d.step("%s", title)
	var ladderOut bytes.Buffer
	ladder := trace.NewLadder(&ladderOut, "tundra", "kernel")
	w := newConnWatch()
	stopLadder := d.tracer.Subscribe(trace.LadderKinds, ladder.Handle)
	stopWatch := d.tracer.Subscribe(trace.StateChange|trace.SegmentIn, w.handle)
	defer stopWatch()

	shown := strings.Join(cmd, " ")
	if cmd[0] == "bash" {
		shown = "bash -c '" + cmd[2] + "'"
	}
	fmt.Fprintf(d.stdout, "$ %s\n", shown)
	out, err := d.ns.Command(ctx, cmd[0], cmd[1:]...).CombinedOutput()
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		fmt.Fprintf(d.stdout, "  %s\n", line)
	}
	if err != nil {
		stopLadder()
		return fmt.Errorf("%s: %w", cmd[0], err)
	}
	// The response is in; the closing handshake may still be on its way.
	w.waitFinished(ctx, 3*time.Second)
	d.tracer.Flush()
	stopLadder()
	ladder.Flush()
	fmt.Fprintln(d.stdout, "The exchange (numbers relative to each side's ISN; the kernel's states are inferred from the segments):")
	d.stdout.Write(ladderOut.Bytes())
	fmt.Fprintln(d.stdout)
	return ctx.Err()
}

// connWatch follows the connections an exchange opens, to know when each
// has finished its closing handshake on tundra's side (CLOSED or
// TIME-WAIT).
type connWatch struct {
	mu       sync.Mutex
	open     map[tcp.FourTuple]bool
	finished chan struct{} // closed, and replaced, on every change
}

func newConnWatch() *connWatch {
	return &connWatch{open: make(map[tcp.FourTuple]bool), finished: make(chan struct{})}
}

func (w *connWatch) handle(e *trace.Event) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case e.Kind == trace.SegmentIn:
		if _, seen := w.open[e.Conn]; !seen {
			w.open[e.Conn] = true
		}
	case e.To == tcp.Closed || e.To == tcp.TimeWait:
		w.open[e.Conn] = false
	default:
		return
	}
	close(w.finished)
	w.finished = make(chan struct{})
}

// waitFinished waits, at most limit, until every connection seen has
// finished.
func (w *connWatch) waitFinished(ctx context.Context, limit time.Duration) {
	timeout := time.After(limit)
	for {
		w.mu.Lock()
		done, ch := true, w.finished
		for _, open := range w.open {
			done = done && !open
		}
		w.mu.Unlock()
		if done && len(w.open) > 0 {
			return
		}
		select {
		case <-ch:
		case <-timeout:
			return
		case <-ctx.Done():
			return
		}
	}
}

// cleanup undoes everything run did, whatever point it reached.
func (d *demo) cleanup() {
	if d.services != nil {
		d.services.Stop()
	}
	if d.st != nil {
		if err := d.st.Close(); err != nil && !errors.Is(err, link.ErrClosed) {
			fmt.Fprintf(d.stderr, "tundra demo: close: %v\n", err)
		}
	} else if d.tee != nil {
		d.tee.Close()
	}
	if d.capture != nil {
		d.capture.Close()
		d.step("capture written: %s (wireshark %s, or: tshark -r %s -o tls.keylog_file:%s -Y http)",
			d.path(demoCaptureFile), d.path(demoCaptureFile), d.path(demoCaptureFile), d.path(demoKeyLogFile))
	}
	if d.keyLog != nil {
		d.keyLog.Close()
	}
	if d.ns != nil {
		d.ns.Delete()
		d.step("namespace %s deleted", d.ns.Name)
	}
}
