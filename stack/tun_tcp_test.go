//go:build linux

package stack

import (
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tundra-net/tundra/clock"
	"github.com/tundra-net/tundra/link/tun"
	"github.com/tundra-net/tundra/link/tun/netnstest"
	"github.com/tundra-net/tundra/tcp"
)

var kernelMiB = flag.Int("kernel.mib", 100, "MiB sent each way by the TCP tests against the kernel")

// kernelSetup opens a TUN in a fresh namespace and starts a stack on it as
// netnstest.StackAddr; the kernel side is netnstest.KernelAddr.
func kernelSetup(t *testing.T, opts Options) (*netnstest.NS, *Stack) {
	t.Helper()
	ns := netnstest.New(t)
	ep := ns.OpenTUN("", tun.Options{})
	opts.Addresses = []netip.Addr{netip.MustParseAddr(netnstest.StackAddr)}
	s, err := New(ep, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return ns, s
}

// kernelDial opens a kernel TCP connection from inside the namespace.
func kernelDial(t *testing.T, ns *netnstest.NS, addr string) (net.Conn, error) {
	t.Helper()
	var c net.Conn
	err := ns.Do(func() error {
		var err error
		c, err = net.DialTimeout("tcp", addr, 5*time.Second)
		return err
	})
	return c, err
}

// kernelListen opens a kernel TCP listener inside the namespace.
func kernelListen(t *testing.T, ns *netnstest.NS) net.Listener {
	t.Helper()
	var l net.Listener
	if err := ns.Do(func() error {
		var err error
		l, err = net.Listen("tcp", netnstest.KernelAddr+":0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// serveEcho echoes every connection l accepts until l closes.
func serveEcho(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			io.Copy(c, c)
			if cw, ok := c.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			}
			c.Close()
		}()
	}
}

// echoRoundTrip writes size pseudo-random bytes to an echo service through
// c while reading the echo back, and checks the sha256 of both.
func echoRoundTrip(t *testing.T, c net.Conn, size int) time.Duration {
	t.Helper()
	start := time.Now()
	var sent [32]byte
	var werr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		h := sha256.New()
		rng := rand.New(rand.NewPCG(7, uint64(size)))
		buf := make([]byte, 128<<10)
		for left := size; left > 0; {
			n := min(left, len(buf))
			for i := 0; i+8 <= n; i += 8 {
				v := rng.Uint64()
				for j := range 8 {
					buf[i+j] = byte(v >> (8 * j))
				}
			}
			h.Write(buf[:n])
			if _, err := c.Write(buf[:n]); err != nil {
				werr = err
				return
			}
			left -= n
		}
		copy(sent[:], h.Sum(nil))
		werr = c.(interface{ CloseWrite() error }).CloseWrite()
	}()
	h := sha256.New()
	n, err := io.Copy(h, c)
	wg.Wait()
	if werr != nil {
		t.Fatalf("write: %v", werr)
	}
	if err != nil {
		t.Fatalf("read after %d bytes: %v", n, err)
	}
	var got [32]byte
	copy(got[:], h.Sum(nil))
	if n != int64(size) || got != sent {
		t.Fatalf("echo returned %d of %d bytes; sha256 equal: %v", n, size, got == sent)
	}
	return time.Since(start)
}

// rate formats size bytes in d as Mbit/s.
func rate(size int, d time.Duration) string {
	return fmt.Sprintf("%.0f Mbit/s", float64(size)*8/d.Seconds()/1e6)
}

// echoKernelToStack: the kernel connects to an echo service on the stack
// and sends size bytes through it, reading them back.
func echoKernelToStack(t *testing.T, ns *netnstest.NS, s *Stack, size int, label string) {
	t.Helper()
	l, err := s.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go serveEcho(l)
	c, err := kernelDial(t, ns, net.JoinHostPort(netnstest.StackAddr, portOf(l.Addr())))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d := echoRoundTrip(t, c, size)
	t.Logf("%skernel -> tundra echo: %d MiB each way in %v (%s each way)", label, size>>20, d.Round(time.Millisecond), rate(size, d))
}

// echoStackToKernel: the stack connects to a kernel echo server and sends
// size bytes through it, reading them back.
func echoStackToKernel(t *testing.T, ns *netnstest.NS, s *Stack, size int, label string) {
	t.Helper()
	l := kernelListen(t, ns)
	go serveEcho(l)
	c, err := s.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d := echoRoundTrip(t, c, size)
	t.Logf("%stundra -> kernel echo: %d MiB each way in %v (%s each way)", label, size>>20, d.Round(time.Millisecond), rate(size, d))
}

// TestKernelEchoThroughStack: the kernel connects to our echo service and
// sends 100 MiB, reading it all back (so 100 MiB each way).
func TestKernelEchoThroughStack(t *testing.T) {
	ns, s := kernelSetup(t, Options{})
	echoKernelToStack(t, ns, s, *kernelMiB<<20, "")
}

// TestStackEchoThroughKernel: the stack connects to a kernel echo server
// and sends 100 MiB, reading it all back.
func TestStackEchoThroughKernel(t *testing.T) {
	ns, s := kernelSetup(t, Options{})
	echoStackToKernel(t, ns, s, *kernelMiB<<20, "")
}

// TestKernelEchoUnderLoss repeats both directions with iptables on the
// kernel side dropping 2% of the packets each way.
func TestKernelEchoUnderLoss(t *testing.T) {
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Skip("needs iptables (apt-get install iptables)")
	}
	ns, s := kernelSetup(t, Options{})
	for _, rule := range [][]string{
		{"-A", "OUTPUT", "-d", netnstest.StackAddr, "-m", "statistic", "--mode", "random", "--probability", "0.02", "-j", "DROP"},
		{"-A", "INPUT", "-s", netnstest.StackAddr, "-m", "statistic", "--mode", "random", "--probability", "0.02", "-j", "DROP"},
	} {
		if out, err := ns.Command("iptables", rule...).CombinedOutput(); err != nil {
			t.Skipf("iptables statistic match unavailable: %v: %s", err, out)
		}
	}
	size := *kernelMiB << 20
	if testing.Short() {
		size = 8 << 20
	}
	echoKernelToStack(t, ns, s, size, "2% loss, ")
	echoStackToKernel(t, ns, s, size, "2% loss, ")
	st := s.Stats()
	t.Logf("retransmitted segments %d of %d sent", st.TCP.RetransSegs, st.TCP.OutSegs)
}

// TestRefusedBothWays: a dial to a closed port is refused with
// ECONNREFUSED, from the kernel to the stack and from the stack to the
// kernel.
func TestRefusedBothWays(t *testing.T) {
	ns, s := kernelSetup(t, Options{})
	_, err := kernelDial(t, ns, netnstest.StackAddr+":4242")
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("kernel dial to a closed port of the stack: %v", err)
	}
	_, err = s.Dial("tcp", netnstest.KernelAddr+":4242")
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("stack dial to a closed port of the kernel: %v", err)
	}
}

// stateRecorder remembers the last state of every connection.
type stateRecorder struct {
	mu   sync.Mutex
	last map[tcp.FourTuple]tcp.State
	seen map[tcp.FourTuple][]tcp.State
}

func (r *stateRecorder) StateChanged(id tcp.FourTuple, from, to tcp.State, cause tcp.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil {
		r.last, r.seen = map[tcp.FourTuple]tcp.State{}, map[tcp.FourTuple][]tcp.State{}
	}
	r.last[id] = to
	r.seen[id] = append(r.seen[id], to)
}
func (r *stateRecorder) SegmentSent(tcp.FourTuple, *tcp.HeaderFields, int, bool) {}
func (r *stateRecorder) SegmentReceived(tcp.FourTuple, *tcp.Segment)             {}

func (r *stateRecorder) states(id tcp.FourTuple) []tcp.State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]tcp.State(nil), r.seen[id]...)
}

// TestCloseOrders: whoever closes first ends in TIME-WAIT, and the other
// side goes through CLOSE-WAIT and LAST-ACK to CLOSED.
func TestCloseOrders(t *testing.T) {
	rec := &stateRecorder{}
	cfg := tcp.DefaultConfig()
	cfg.MSL = 100 * time.Millisecond
	ns, s := kernelSetup(t, Options{Observer: rec, TCP: cfg})
	l, err := s.Listen("tcp", ":7")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	// The stack closes first.
	kc, err := kernelDial(t, ns, netnstest.StackAddr+":7")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	id := sc.(*TCPConn).id
	sc.Close()
	if _, err := kc.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("kernel read after the stack's FIN: %v", err)
	}
	kc.Close()
	waitFor(t, func() bool { return s.ConnectionCount() == 0 })
	// The kernel may acknowledge our FIN on its own (FIN-WAIT-2) or with
	// its own FIN in one segment (straight to TIME-WAIT); either way the
	// stack, which closed first, waits in TIME-WAIT.
	got := rec.states(id)
	viaFinWait2 := []tcp.State{tcp.Listen, tcp.SynReceived, tcp.Established, tcp.FinWait1, tcp.FinWait2, tcp.TimeWait, tcp.Closed}
	direct := []tcp.State{tcp.Listen, tcp.SynReceived, tcp.Established, tcp.FinWait1, tcp.TimeWait, tcp.Closed}
	if !equalStates(got, viaFinWait2) && !equalStates(got, direct) {
		t.Errorf("stack closing first went %v, want %v or %v", got, viaFinWait2, direct)
	}

	// The kernel closes first: its socket is left in TIME-WAIT.
	kc, err = kernelDial(t, ns, netnstest.StackAddr+":7")
	if err != nil {
		t.Fatal(err)
	}
	sc, err = l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	id = sc.(*TCPConn).id
	kc.Close()
	if _, err := sc.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("stack read after the kernel's FIN: %v", err)
	}
	sc.Close()
	waitFor(t, func() bool { return s.ConnectionCount() == 0 })
	want := []tcp.State{tcp.Listen, tcp.SynReceived, tcp.Established, tcp.CloseWait, tcp.LastAck, tcp.Closed}
	if got := rec.states(id); !equalStates(got, want) {
		t.Errorf("kernel closing first: the stack went %v, want %v", got, want)
	}
	out := ns.Run("ss", "-tan", "state", "time-wait")
	if !strings.Contains(out, netnstest.StackAddr+":7") {
		t.Errorf("the kernel's socket is not in TIME-WAIT:\n%s", out)
	}
}

func equalStates(a, b []tcp.State) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// countingClock is the real clock, counting the timers that are pending.
type countingClock struct {
	clock.Real
	pending atomic.Int64
}

type countedTimer struct {
	c *countingClock
	t *time.Timer
}

func (c *countingClock) AfterFunc(d time.Duration, f func()) clock.Timer {
	ct := &countedTimer{c: c}
	c.pending.Add(1)
	ct.t = time.AfterFunc(d, func() { c.pending.Add(-1); f() })
	return ct
}

func (t *countedTimer) Stop() bool {
	stopped := t.t.Stop()
	if stopped {
		t.c.pending.Add(-1)
	}
	return stopped
}

func (t *countedTimer) Reset(d time.Duration) bool {
	pending := t.t.Stop()
	if !pending {
		t.c.pending.Add(1)
	}
	t.t.Reset(d)
	return pending
}

// TestKernelConnectCloseCycles: 1,000 connections from the kernel to the
// stack and 1,000 from the stack to the kernel, each exchanging a few
// bytes and closed (from either side, alternately), leave no connection,
// timer or goroutine behind.
func TestKernelConnectCloseCycles(t *testing.T) {
	clk := &countingClock{}
	cfg := tcp.DefaultConfig()
	cfg.MSL = 10 * time.Millisecond
	ns, s := kernelSetup(t, Options{Clock: clk, TCP: cfg})
	l, err := s.Listen("tcp", ":7")
	if err != nil {
		t.Fatal(err)
	}
	kl := kernelListen(t, ns)
	go serveEcho(kl)
	baseline := runtime.NumGoroutine()
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				io.Copy(c, c)
				c.Close()
			}()
		}
	}()
	cycles := 1000
	if testing.Short() {
		cycles = 100
	}
	buf := make([]byte, 5)
	for i := range cycles {
		kc, err := kernelDial(t, ns, netnstest.StackAddr+":7")
		if err != nil {
			t.Fatalf("kernel dial %d: %v", i, err)
		}
		kc.Write([]byte("hello"))
		if _, err := io.ReadFull(kc, buf); err != nil {
			t.Fatalf("kernel cycle %d: %v", i, err)
		}
		kc.Close()

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		sc, err := s.DialContext(ctx, "tcp", kl.Addr().String())
		cancel()
		if err != nil {
			t.Fatalf("stack dial %d: %v", i, err)
		}
		sc.Write([]byte("hello"))
		if _, err := io.ReadFull(sc, buf); err != nil {
			t.Fatalf("stack cycle %d: %v", i, err)
		}
		sc.Close()
	}
	l.Close()
	<-accepted
	waitFor(t, func() bool { return s.ConnectionCount() == 0 })
	waitFor(t, func() bool { return clk.pending.Load() == 0 })
	waitFor(t, func() bool { return runtime.NumGoroutine() <= baseline })
	st := s.Stats().TCP
	t.Logf("%d cycles each way: connections %d, pending timers %d, goroutines %d (baseline %d); counters %+v",
		cycles, s.ConnectionCount(), clk.pending.Load(), runtime.NumGoroutine(), baseline, st)
	if st.CurrEstab != 0 || st.ActiveOpens != uint64(cycles) || st.PassiveOpens != uint64(cycles) {
		t.Errorf("counters: %+v", st)
	}
}

// TestReopenFromTimeWait: the stack closes first and holds TIME-WAIT; the
// kernel connects again at once from the same port, and the new SYN
// reopens the connection (RFC 1122 4.2.2.13) instead of being refused or
// stalling, as busy servers need.
func TestReopenFromTimeWait(t *testing.T) {
	ns, s := kernelSetup(t, Options{})
	l, err := s.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("bye"))
			c.Close() // the stack closes first: TIME-WAIT is ours
		}
	}()
	const localPort = 40404
	for i := range 3 {
		var c net.Conn
		err := ns.Do(func() error {
			d := net.Dialer{Timeout: 3 * time.Second,
				LocalAddr: &net.TCPAddr{IP: net.ParseIP(netnstest.KernelAddr), Port: localPort}}
			var err error
			c, err = d.Dial("tcp", netnstest.StackAddr+":80")
			return err
		})
		if err != nil {
			t.Fatalf("connection %d from port %d: %v", i, localPort, err)
		}
		b, err := io.ReadAll(c)
		c.Close()
		if err != nil || string(b) != "bye" {
			t.Fatalf("connection %d: %q %v", i, b, err)
		}
		// The stack must now hold the old incarnation in TIME-WAIT.
		waitFor(t, func() bool {
			for _, info := range s.TCPConnections() {
				if info.Remote.Port() == localPort && info.State == tcp.TimeWait {
					return true
				}
			}
			return false
		})
	}
}
