//go:build linux

package attack

import (
	"bytes"
	"context"
	"crypto/rand"
	cryptotls "crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	nethttp "net/http"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tundra-net/tundra/http"
	"github.com/tundra-net/tundra/internal/services"
	"github.com/tundra-net/tundra/ipv4"
	"github.com/tundra-net/tundra/link/tun"
	"github.com/tundra-net/tundra/link/tun/netnstest"
	"github.com/tundra-net/tundra/stack"
	"github.com/tundra-net/tundra/tcp"
	"github.com/tundra-net/tundra/tls"
)

// Addresses in every test's namespace: the kernel side of the TUN (the
// attacker) and the stack (the target). Nothing else is ever addressed.
const (
	kernelAddr = netnstest.KernelAddr
	stackAddr  = netnstest.StackAddr
)

// Ports of the servers an env runs on the stack besides the contract's
// services (echo 7, HTTP 80, HTTPS 443): HTTP and HTTPS with short
// timeouts and small limits, so that slow and oversized requests are cut
// off within a test's time.
const (
	strictHTTPPort  = 8080
	strictHTTPSPort = 8443
)

// The strict servers' limits.
const (
	strictReadHeaderTimeout = time.Second
	strictMaxStartLine      = 1024
	strictMaxHeaderBytes    = 4096
)

// envTCPConfig is the TCP configuration of the stack under attack: the
// defaults, with SYN-RECEIVED given up after two retransmissions (1 + 2 + 4
// s) and TIME-WAIT cut to 2 s, so that the half-open and closed connections
// an attack leaves are gone within a test's time and "back to where it
// was" can be checked. Every other limit is the default.
func envTCPConfig() tcp.Config {
	cfg := tcp.DefaultConfig()
	cfg.SynRetries = 2
	cfg.MSL = time.Second
	cfg.FinWait2Timeout = 5 * time.Second
	return cfg
}

// env is one test's world: a namespace with a TUN, a stack answering as
// stackAddr with the contract's services and the strict servers.
type env struct {
	t   *testing.T
	ns  *netnstest.NS
	st  *stack.Stack
	svc *services.Running
	// baseline is the resource use of the idle stack before the attack.
	baseline usage
}

// needRoot skips t unless it runs as root.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: attacks run from a network namespace against a TUN (CI runs as root)")
	}
}

// needTools skips t unless every named program is installed; each is
// also its Debian package's name.
func needTools(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			t.Skipf("needs %s: apt-get install %s (.ci/run installs it)", name, name)
		}
	}
}

// newEnv sets up the namespace, TUN (with offloads), stack and servers,
// checks that the stack serves, and records the baseline.
func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvTUN(t, tun.Options{})
}

// newPlainEnv is newEnv on a TUN without offloads, so that every segment
// the kernel side sees is one the stack sent (with TSO the kernel receives
// super-segments, which raw sockets see whole).
func newPlainEnv(t *testing.T) *env {
	t.Helper()
	return newEnvTUN(t, tun.Options{DisableOffloads: true})
}

func newEnvTUN(t *testing.T, opts tun.Options) *env {
	t.Helper()
	return newEnvWith(t, opts, nil)
}

// newEnvWith is newEnv on a TUN opened with opts, and with change, if not
// nil, applied to the stack's options first.
func newEnvWith(t *testing.T, opts tun.Options, change func(*stack.Options)) *env {
	t.Helper()
	needRoot(t)
	ns := netnstest.New(t)
	ep := ns.OpenTUN("", opts)
	sopts := stack.Options{
		Addresses:  []netip.Addr{netip.MustParseAddr(stackAddr)},
		TCP:        envTCPConfig(),
		Reassembly: ipv4.ReassemblyLimits{Timeout: 2 * time.Second},
	}
	if change != nil {
		change(&sopts)
	}
	st, err := stack.New(ep, sopts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := services.Start(st, services.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Stop)
	e := &env{t: t, ns: ns, st: st, svc: svc}
	e.startStrictServers(quiet)
	e.checkServes()
	// The checks' connections pass through TIME-WAIT (2 s here) first.
	for deadline := time.Now().Add(10 * time.Second); st.ConnectionCount() > 0 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	e.baseline = e.usage()
	return e
}

// startStrictServers serves the contract handler on strictHTTPPort and,
// over TLS with the services' certificate, on strictHTTPSPort, with the
// strict limits.
func (e *env) startStrictServers(log *slog.Logger) {
	e.t.Helper()
	issued, err := e.svc.CA.IssueServer(stackAddr)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, port := range []uint16{strictHTTPPort, strictHTTPSPort} {
		var l net.Listener
		l, err := e.st.ListenTCP(netip.AddrPortFrom(netip.IPv4Unspecified(), port), stack.DefaultListenBacklog)
		if err != nil {
			e.t.Fatal(err)
		}
		if port == strictHTTPSPort {
			l, err = tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{issued.TLSCertificate()}})
			if err != nil {
				e.t.Fatal(err)
			}
		}
		srv := &http.Server{Handler: http.ContractHandler(), Logger: log,
			ReadHeaderTimeout: strictReadHeaderTimeout, IdleTimeout: 2 * time.Second,
			Limits: http.Limits{MaxStartLineBytes: strictMaxStartLine, MaxHeaderBytes: strictMaxHeaderBytes}}
		done := make(chan struct{})
		go func() { defer close(done); srv.Serve(l) }()
		e.t.Cleanup(func() { srv.Close(); <-done })
	}
}

// dial opens a kernel TCP connection from inside the namespace.
func (e *env) dial(addr string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := e.ns.Do(func() error {
		var err error
		c, err = net.DialTimeout("tcp", addr, timeout)
		return err
	})
	return c, err
}

// httpClient returns a client whose connections are the kernel's, opened
// in the namespace, trusting the services' CA; each request opens a new
// connection.
func (e *env) httpClient() *nethttp.Client {
	return &nethttp.Client{Timeout: 10 * time.Second, Transport: &nethttp.Transport{
		DisableKeepAlives: true,
		TLSClientConfig:   &cryptotls.Config{RootCAs: e.svc.CA.Pool()},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var c net.Conn
			err := e.ns.Do(func() error {
				var err error
				c, err = (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
				return err
			})
			return c, err
		},
	}}
}

// get fetches url with a kernel client and checks the contract's answer
// to "/".
func (e *env) get(url string) error {
	resp, err := e.httpClient().Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 || string(body) != "hello, world\n" {
		return fmt.Errorf("GET %s: %d %q", url, resp.StatusCode, body)
	}
	return nil
}

// echoRoundTrip sends n random bytes to the echo service and checks that
// exactly they come back.
func (e *env) echoRoundTrip(n int) error {
	c, err := e.dial(stackAddr+":7", 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	msg := make([]byte, n)
	rand.Read(msg)
	errc := make(chan error, 1)
	go func() { _, err := c.Write(msg); errc <- err }()
	got := make([]byte, n)
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("echo: %w", err)
	}
	if err := <-errc; err != nil {
		return err
	}
	if !bytes.Equal(got, msg) {
		return fmt.Errorf("echo: %d bytes came back different", n)
	}
	return nil
}

// checkServes fails the test unless the stack answers HTTP, HTTPS and an
// echo round trip.
func (e *env) checkServes() {
	e.t.Helper()
	for _, url := range []string{"http://" + stackAddr + "/", "https://" + stackAddr + "/",
		fmt.Sprintf("http://%s:%d/", stackAddr, strictHTTPPort)} {
		if err := e.get(url); err != nil {
			e.t.Fatalf("stack no longer serves: %v", err)
		}
	}
	if err := e.echoRoundTrip(64 << 10); err != nil {
		e.t.Fatalf("stack no longer echoes: %v", err)
	}
}

// usage is what an attack might leave behind.
type usage struct {
	goroutines    int
	connections   int
	fragDatagrams int
	fragBytes     int
	heapInuse     uint64
}

func (u usage) String() string {
	return fmt.Sprintf("%d goroutines, %d connections, %d datagrams (%d bytes) in reassembly, heap in use %.1f MiB",
		u.goroutines, u.connections, u.fragDatagrams, u.fragBytes, float64(u.heapInuse)/(1<<20))
}

// usage measures the stack's resource use now, after a garbage collection.
func (e *env) usage() usage {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	d, b := e.st.ReassemblyPending()
	return usage{goroutines: runtime.NumGoroutine(), connections: e.st.ConnectionCount(),
		fragDatagrams: d, fragBytes: b, heapInuse: ms.HeapInuse}
}

// Slack allowed over the baseline once an attack is over: a few goroutines
// of the runtime and net/http's idle machinery, and heap for pools and
// caches that fill once (the stack's pooled buffers, TLS session state).
const (
	goroutineSlack = 8
	heapSlack      = 16 << 20
)

// checkRecovered waits (up to within) for the stack's resource use to
// return to the baseline, then checks that it still serves. It logs the
// usage after the attack, for docs/security.md.
func (e *env) checkRecovered(within time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(within)
	var u usage
	for {
		u = e.usage()
		ok := u.goroutines <= e.baseline.goroutines+goroutineSlack &&
			u.connections <= e.baseline.connections &&
			u.fragDatagrams == 0 && u.fragBytes == 0 &&
			u.heapInuse <= e.baseline.heapInuse+heapSlack
		if ok {
			break
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("not back to the baseline after %v:\n before: %v\n after:  %v\n%s", within, e.baseline, u, e.connectionStates())
		}
		time.Sleep(200 * time.Millisecond)
	}
	e.t.Logf("before: %v", e.baseline)
	e.t.Logf("after:  %v", u)
	e.checkServes()
}

// connectionStates lists the stack's connections, for failure messages.
func (e *env) connectionStates() string {
	var b strings.Builder
	for i, c := range e.st.TCPConns() {
		if i == 20 {
			fmt.Fprintf(&b, "  ...\n")
			break
		}
		fmt.Fprintf(&b, "  %v -> %v %v\n", c.LocalAddr(), c.RemoteAddr(), c.State())
	}
	return b.String()
}

// run runs a command inside the namespace, bounded by timeout, and returns
// its combined output.
func (e *env) run(timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", e.ns.Name, name}, args...)...)
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s timed out after %v", name, timeout)
	}
	if err != nil {
		err = fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out), err
}
