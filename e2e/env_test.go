//go:build linux

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tundra-net/tundra/internal/services"
	"github.com/tundra-net/tundra/link/tun"
	"github.com/tundra-net/tundra/link/tun/netnstest"
	"github.com/tundra-net/tundra/stack"
)

// Addresses of every test's namespace: the kernel side of the TUN and the
// stack.
const (
	kernelAddr = netnstest.KernelAddr
	stackAddr  = netnstest.StackAddr
)

// commandTimeout bounds every external command a test runs.
const commandTimeout = 30 * time.Second

// env is one test's world: a namespace with a TUN, a stack on it answering
// as stackAddr, and the benchmark contract's services on that stack (HTTP
// on 80, HTTPS on 443 with a fresh CA written to CAFile).
type env struct {
	t   *testing.T
	ns  *netnstest.NS
	st  *stack.Stack
	svc *services.Running
	// dir is a temporary directory for files the commands read.
	dir string
	// caFile is the PEM file of the CA that signed the HTTPS certificate.
	caFile string
}

// debianPackage names the Debian package of a command where the two
// differ.
var debianPackage = map[string]string{"testssl": "testssl.sh"}

// needTools skips t unless every named program is installed.
func needTools(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			pkg := name
			if p, ok := debianPackage[name]; ok {
				pkg = p
			}
			t.Skipf("needs %s: apt-get install %s (.ci/run installs the tools the default tests use)", name, pkg)
		}
	}
}

// newEnv sets up a namespace, a TUN and a stack serving the contract. It
// skips t without root.
func newEnv(t *testing.T) *env {
	t.Helper()
	ns := netnstest.New(t)
	ep := ns.OpenTUN("", tun.Options{})
	st, err := stack.New(ep, stack.Options{Addresses: []netip.Addr{netip.MustParseAddr(stackAddr)}})
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
	e := &env{t: t, ns: ns, st: st, svc: svc, dir: t.TempDir()}
	e.caFile = filepath.Join(e.dir, "ca.pem")
	if err := svc.CA.WriteFiles(e.caFile, filepath.Join(e.dir, "ca.key")); err != nil {
		t.Fatal(err)
	}
	return e
}

// output is what a command printed.
type output struct {
	stdout, stderr string
}

// exec runs a command inside the namespace under commandTimeout and
// returns its output; the error is non-nil if it failed or timed out.
func (e *env) exec(name string, args ...string) (output, error) {
	return e.execInput(nil, name, args...)
}

// execInput is exec with stdin.
func (e *env) execInput(stdin io.Reader, name string, args ...string) (output, error) {
	return e.execFor(commandTimeout, stdin, name, args...)
}

// execFor is exec with stdin and a timeout of its own, for slow tools.
func (e *env) execFor(timeout time.Duration, stdin io.Reader, name string, args ...string) (output, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", e.ns.Name, name}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &stdout, &stderr
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s timed out after %v", name, timeout)
	}
	if err != nil {
		err = fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return output{stdout.String(), stderr.String()}, err
}

// mustExec is exec that fails the test on error.
func (e *env) mustExec(name string, args ...string) output {
	e.t.Helper()
	out, err := e.exec(name, args...)
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// start starts a long-running command inside the namespace (a server) and
// stops it when the test ends. Its combined output goes to the returned
// buffer, for error messages.
func (e *env) start(name string, args ...string) *syncBuffer {
	e.t.Helper()
	cmd := e.ns.Command(name, args...)
	out := new(syncBuffer)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("start %s: %v", name, err)
	}
	e.t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return out
}

// kernelDialer returns a dial function whose sockets are the kernel's,
// opened inside the namespace, for net/http's Transport or tls.Dialer.
func (e *env) kernelDialer() func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := e.ns.Do(func() error {
			var err error
			c, err = (&net.Dialer{Timeout: 10 * time.Second}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
}

// kernelListen opens a kernel TCP listener inside the namespace on
// kernelAddr, closed when the test ends.
func (e *env) kernelListen() net.Listener {
	e.t.Helper()
	var l net.Listener
	if err := e.ns.Do(func() error {
		var err error
		l, err = net.Listen("tcp", kernelAddr+":0")
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { l.Close() })
	return l
}

// waitListening waits until something accepts TCP connections on addr
// inside the namespace, for servers started with start.
func (e *env) waitListening(addr string, log *syncBuffer) {
	e.t.Helper()
	dial := e.kernelDialer()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := dial(ctx, "tcp", addr)
		cancel()
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("nothing listens on %s after 10 s: %v\n%s", addr, err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
