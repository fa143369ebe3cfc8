package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tundra-net/tundra/internal/netns"
)

// needDemoTools skips the test unless it can make namespaces and has the
// programs the demo runs.
func needDemoTools(t *testing.T, tools ...string) {
	t.Helper()
	if err := netns.Available(); err != nil {
		t.Skipf("the demo %v; run the tests as root to include it", err)
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the demo test needs %s", tool)
		}
	}
}

// demoNamespaceExists reports whether a namespace of this process's demo
// is still there.
func demoNamespaceExists(t *testing.T) bool {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v: %s", err, out)
	}
	return strings.Contains(string(out), fmt.Sprintf("tundra-demo-%d", os.Getpid()))
}

// tshark runs tshark and returns its standard output (it complains about
// running as root on standard error).
func tshark(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("tshark", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("tshark %v: %v: %s", args, err, stderr.String())
	}
	return stdout.String()
}

func TestDemoEndToEnd(t *testing.T) {
	needDemoTools(t, "curl", "tshark")
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	if err := runDemoContext(ctx, demoOptions{mtu: 1500, count: 1, out: dir}, &stdout, &stderr); err != nil {
		t.Fatalf("demo: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"1 packets transmitted, 1 received",
		// The handshake, with tundra's states beside it.
		"kernel -> tundra SYN ", "tundra: LISTEN -> SYN-RECEIVED", "tundra -> kernel SYN+ACK     seq=0 ack=1",
		"tundra: SYN-RECEIVED -> ESTABLISHED",
		// HTTP/1.0: tundra closes first and waits in TIME-WAIT.
		`"GET / HTTP/1.0"`, "tundra: ESTABLISHED -> FIN-WAIT-1", "-> TIME-WAIT",
		// HTTP/1.1: two requests on one connection, the kernel closes.
		`"GET /bytes/16 HTTP/1.1"`, "tundra: ESTABLISHED -> CLOSE-WAIT", "tundra: LAST-ACK -> CLOSED",
		// Pipelining: both answers, in order, on one connection.
		"abcdefgh", "HTTP/1.1 pipelining",
		// HTTPS, and the server's own account of the TLS handshake.
		"ClientHello received", "handshake done in",
		`"TLS ClientHello"`, `"TLS ServerHello"`,
		"(inferred)", "hello, world", "abcdefghijklmnop",
		"namespace tundra-demo-",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the demo's output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
	if demoNamespaceExists(t) {
		t.Errorf("the demo left its namespace behind")
	}

	capture := filepath.Join(dir, demoCaptureFile)
	if malformed := tshark(t, "-r", capture, "-Y", "_ws.malformed"); malformed != "" {
		t.Errorf("tshark finds malformed packets:\n%s", malformed)
	}
	all := tshark(t, "-r", capture)
	if n := strings.Count(all, "\n"); n < 30 {
		t.Errorf("the capture holds only %d packets:\n%s", n, all)
	}
	// With the key log, tshark decrypts the HTTPS exchange.
	https := tshark(t, "-r", capture, "-o", "tls.keylog_file:"+filepath.Join(dir, demoKeyLogFile),
		"-Y", "http && tcp.port == 443")
	if !strings.Contains(https, "GET / HTTP/1.1") || !strings.Contains(https, "200 OK") {
		t.Errorf("tshark did not decrypt the HTTPS request with the key log:\n%s", https)
	}
}

// signalWriter cancels a context when a given text has been written.
type signalWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	when   string
	cancel context.CancelFunc
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.when) {
		w.cancel()
	}
	return len(p), nil
}

func TestDemoInterruptedCleansUp(t *testing.T) {
	needDemoTools(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	interrupt, stop := context.WithCancel(ctx)
	defer stop()
	// Interrupt while the kernel is pinging (as SIGINT does, through
	// signal.NotifyContext in runDemo).
	w := &signalWriter{when: "64 bytes from", cancel: stop}
	var stderr bytes.Buffer
	err := runDemoContext(interrupt, demoOptions{mtu: 1500, count: 50, out: t.TempDir()}, w, &stderr)
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Errorf("an interrupted demo returned %v", err)
	}
	if !strings.Contains(w.buf.String(), "deleted") {
		t.Errorf("the interrupted demo did not say it deleted the namespace:\n%s", w.buf.String())
	}
	if demoNamespaceExists(t) {
		t.Errorf("the interrupted demo left its namespace behind")
	}
}
