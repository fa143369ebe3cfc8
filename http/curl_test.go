package http

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	nethttp "net/http"
)

// runCurl runs curl against our server on loopback and returns its
// standard output and standard error. It skips the test without curl.
func runCurl(t *testing.T, args ...string) (string, string) {
	t.Helper()
	path, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed; skipping the curl interoperability test")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// -q: ignore any .curlrc; --noproxy: never send loopback traffic to a
	// proxy from the environment.
	cmd := exec.CommandContext(ctx, path, append([]string{"-q", "--noproxy", "*", "-sS"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("curl %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.String(), stderr.String()
}

func TestCurl(t *testing.T) {
	var mu sync.Mutex
	remotes := map[string]bool{}
	contract := ContractHandler()
	_, addr := startServer(t, nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		mu.Lock()
		remotes[r.RemoteAddr] = true
		mu.Unlock()
		contract.ServeHTTP(w, r)
	}))
	base := "http://" + addr

	t.Run("HTTP/1.0", func(t *testing.T) {
		out, _ := runCurl(t, "-0", "-i", base+"/")
		if !strings.HasPrefix(out, "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(out, "\r\n\r\nhello, world\n") ||
			!strings.Contains(out, "Connection: close\r\n") {
			t.Fatalf("got %q", out)
		}
	})
	t.Run("several URLs on one connection", func(t *testing.T) {
		mu.Lock()
		clear(remotes)
		mu.Unlock()
		out, errOut := runCurl(t, "-v", base+"/", base+"/bytes/10", base+"/")
		if out != "hello, world\nabcdefghijhello, world\n" {
			t.Fatalf("got %q", out)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(remotes) != 1 || !strings.Contains(errOut, "Re-using existing connection") {
			t.Fatalf("requests came on %d connections; curl said:\n%s", len(remotes), errOut)
		}
	})
	t.Run("HEAD", func(t *testing.T) {
		out, _ := runCurl(t, "-I", base+"/bytes/12345")
		if !strings.Contains(out, "Content-Length: 12345\r\n") {
			t.Fatalf("got %q", out)
		}
	})
	payload := bytes.Repeat([]byte("tundra chunked upload\n"), 50000) // about 1 MiB
	file := filepath.Join(t.TempDir(), "payload")
	if err := os.WriteFile(file, payload, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("chunked upload", func(t *testing.T) {
		out, errOut := runCurl(t, "-v", "-H", "Transfer-Encoding: chunked", "--data-binary", "@"+file, base+"/echo")
		if out != string(payload) {
			t.Fatalf("echoed %d bytes, want %d", len(out), len(payload))
		}
		if !strings.Contains(errOut, "Transfer-Encoding: chunked") {
			t.Fatalf("curl did not send chunked:\n%s", errOut)
		}
	})
	t.Run("100-continue", func(t *testing.T) {
		out, errOut := runCurl(t, "-v", "-H", "Expect: 100-continue", "--data-binary", "@"+file, base+"/echo")
		if out != string(payload) {
			t.Fatalf("echoed %d bytes, want %d", len(out), len(payload))
		}
		if !strings.Contains(errOut, "HTTP/1.1 100 Continue") {
			t.Fatalf("no 100 Continue seen by curl:\n%s", errOut)
		}
	})
	t.Run("bad byte count", func(t *testing.T) {
		out, _ := runCurl(t, "-w", "%{http_code}", "-o", os.DevNull, base+"/bytes/-1")
		if out != "400" {
			t.Fatalf("got %q", out)
		}
	})
}
