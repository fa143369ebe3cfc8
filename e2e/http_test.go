//go:build linux

package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	nethttp "net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tundrahttp "github.com/tundra-net/tundra/http"
)

// randomBytes returns n reproducible pseudo-random bytes.
func randomBytes(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, uint64(n)))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// contractBytes is what the contract's /bytes/N sends: a printable
// alphabet repeated over 32 KiB blocks, each block starting afresh.
func contractBytes(n int) []byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789\n"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[i%(32<<10)%len(alphabet)]
	}
	return b
}

// TestCurlHTTP10: curl -0 speaks HTTP/1.0; the server answers and closes
// the connection, as RFC 1945 has it (no keep-alive was asked for).
func TestCurlHTTP10(t *testing.T) {
	needTools(t, "curl")
	e := newEnv(t)
	out := e.mustExec("curl", "-sS", "-v", "-0", "--max-time", "10", "http://"+stackAddr+"/")
	if out.stdout != "hello, world\n" {
		t.Fatalf("body %q, want %q\n%s", out.stdout, "hello, world\n", out.stderr)
	}
	for _, want := range []string{"> GET / HTTP/1.0", "< HTTP/1.1 200 OK", "Closing connection"} {
		if !strings.Contains(out.stderr, want) {
			t.Errorf("curl -v output lacks %q:\n%s", want, out.stderr)
		}
	}
	// A 1.0 client that asks for keep-alive gets it, with a length.
	out = e.mustExec("curl", "-sS", "-v", "-0", "--max-time", "10", "-H", "Connection: keep-alive",
		"http://"+stackAddr+"/", "http://"+stackAddr+"/bytes/10")
	if want := "hello, world\n" + string(contractBytes(10)); out.stdout != want {
		t.Fatalf("body %q, want %q", out.stdout, want)
	}
	if !strings.Contains(out.stderr, "Re-using existing connection") || !strings.Contains(out.stderr, "< Connection: keep-alive") {
		t.Errorf("HTTP/1.0 keep-alive was not honoured:\n%s", out.stderr)
	}
}

// TestCurlKeepAlive: curl fetches several URLs over one HTTP/1.1
// connection (RFC 9112 section 9.3), and says so.
func TestCurlKeepAlive(t *testing.T) {
	needTools(t, "curl")
	e := newEnv(t)
	base := "http://" + stackAddr
	out := e.mustExec("curl", "-sS", "-v", "--max-time", "20",
		base+"/", base+"/bytes/100000", base+"/", base+"/nothing-here", base+"/bytes/0")
	want := "hello, world\n" + string(contractBytes(100000)) + "hello, world\n" + "404 page not found\n"
	if out.stdout != want {
		t.Fatalf("bodies: got %d bytes, want %d\n%s", len(out.stdout), len(want), out.stderr)
	}
	if n := strings.Count(out.stderr, "Re-using existing connection"); n != 4 {
		t.Errorf("curl re-used the connection %d times for 5 URLs, want 4:\n%s", n, out.stderr)
	}
	if n := strings.Count(out.stderr, "Connected to "+stackAddr); n != 1 {
		t.Errorf("curl connected %d times, want once", n)
	}
}

// TestCurlUploads: a chunked upload (RFC 9112 section 7.1) and a large one
// with "Expect: 100-continue" (RFC 9110 section 10.1.1) come back intact
// from POST /echo.
func TestCurlUploads(t *testing.T) {
	needTools(t, "curl")
	e := newEnv(t)
	body := randomBytes(3<<20, 1)
	file := filepath.Join(e.dir, "upload.bin")
	if err := os.WriteFile(file, body, 0o644); err != nil {
		t.Fatal(err)
	}
	url := "http://" + stackAddr + "/echo"
	t.Run("chunked", func(t *testing.T) {
		out := e.mustExec("curl", "-sS", "-v", "--max-time", "20", "-H", "Transfer-Encoding: chunked",
			"-H", "Expect:", "--data-binary", "@"+file, url)
		if !strings.Contains(out.stderr, "> Transfer-Encoding: chunked") {
			t.Errorf("curl did not send chunked:\n%s", out.stderr)
		}
		if !bytes.Equal([]byte(out.stdout), body) {
			t.Fatalf("echo returned %d bytes, sha256 %x; sent %d, sha256 %x",
				len(out.stdout), sha256.Sum256([]byte(out.stdout)), len(body), sha256.Sum256(body))
		}
		// The response to a chunked request is chunked too.
		if !strings.Contains(out.stderr, "< Transfer-Encoding: chunked") {
			t.Errorf("response not chunked:\n%s", out.stderr)
		}
	})
	t.Run("expect-100-continue", func(t *testing.T) {
		out := e.mustExec("curl", "-sS", "-v", "--max-time", "20", "-H", "Expect: 100-continue",
			"--data-binary", "@"+file, url)
		for _, want := range []string{"> Expect: 100-continue", "< HTTP/1.1 100 Continue", "< HTTP/1.1 200 OK", "< Content-Length: " + strconv.Itoa(len(body))} {
			if !strings.Contains(out.stderr, want) {
				t.Errorf("curl -v lacks %q:\n%s", want, out.stderr)
			}
		}
		if !bytes.Equal([]byte(out.stdout), body) {
			t.Fatalf("echo returned %d bytes, want %d", len(out.stdout), len(body))
		}
	})
	t.Run("expect-100-refused", func(t *testing.T) {
		// A request the handler refuses without reading the body gets its
		// final answer instead of 100, and the body is never sent.
		out := e.mustExec("curl", "-sS", "-v", "--max-time", "20", "-H", "Expect: 100-continue",
			"--data-binary", "@"+file, "http://"+stackAddr+"/")
		if strings.Contains(out.stderr, "100 Continue") || !strings.Contains(out.stderr, "< HTTP/1.1 405") {
			t.Errorf("want 405 without 100 Continue:\n%s", out.stderr)
		}
	})
}

// TestNetHTTPClientAgainstStack: Go's own HTTP client, with sockets of the
// kernel inside the namespace, against our server on the stack.
func TestNetHTTPClientAgainstStack(t *testing.T) {
	e := newEnv(t)
	tr := &nethttp.Transport{DialContext: e.kernelDialer(), MaxIdleConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	client := &nethttp.Client{Transport: tr, Timeout: 20 * time.Second}
	var reused atomic.Int32
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		if info.Reused {
			reused.Add(1)
		}
	}}
	do := func(method, path string, body []byte) (*nethttp.Response, []byte) {
		t.Helper()
		ctx := httptrace.WithClientTrace(context.Background(), trace)
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := nethttp.NewRequestWithContext(ctx, method, "http://"+stackAddr+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		got, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s %s: body: %v", method, path, err)
		}
		return resp, got
	}
	if resp, got := do("GET", "/", nil); resp.StatusCode != 200 || string(got) != "hello, world\n" {
		t.Fatalf("GET /: %s %q", resp.Status, got)
	}
	if resp, got := do("GET", "/bytes/5000000", nil); resp.ContentLength != 5000000 || !bytes.Equal(got, contractBytes(5000000)) {
		t.Fatalf("GET /bytes/5000000: %s, %d bytes", resp.Status, len(got))
	}
	body := randomBytes(1<<20, 2)
	if resp, got := do("POST", "/echo", body); resp.StatusCode != 200 || !bytes.Equal(got, body) {
		t.Fatalf("POST /echo: %s, %d bytes back of %d", resp.Status, len(got), len(body))
	}
	if resp, got := do("HEAD", "/bytes/77", nil); resp.ContentLength != 77 || len(got) != 0 {
		t.Fatalf("HEAD: %s, length %d, %d body bytes", resp.Status, resp.ContentLength, len(got))
	}
	if resp, _ := do("DELETE", "/", nil); resp.StatusCode != nethttp.StatusMethodNotAllowed {
		t.Fatalf("DELETE /: %s", resp.Status)
	}
	if n := reused.Load(); n != 4 {
		t.Errorf("net/http re-used the connection %d times for 5 requests, want 4", n)
	}
}

// TestOurClientAgainstKernelServer: tundra's HTTP client, dialing through
// the stack, against net/http's server on the kernel side.
func TestOurClientAgainstKernelServer(t *testing.T) {
	e := newEnv(t)
	l := e.kernelListen()
	var conns atomic.Int32
	srv := &nethttp.Server{
		Handler: nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
			switch r.URL.Path {
			case "/stream":
				// No Content-Length: net/http's server answers chunked.
				for i := range 50 {
					fmt.Fprintf(w, "line %d\n", i)
					w.(nethttp.Flusher).Flush()
				}
			case "/redirect":
				nethttp.Redirect(w, r, "/hello", nethttp.StatusFound)
			case "/limited":
				// Refuses large bodies without reading them: a client
				// that sent Expect: 100-continue never sends the body.
				if r.ContentLength > 1<<10 {
					nethttp.Error(w, "too large", nethttp.StatusRequestEntityTooLarge)
					return
				}
				fmt.Fprint(w, "small enough")
			case "/hello":
				fmt.Fprintf(w, "hello %s from %s", r.Proto, r.RemoteAddr)
			default:
				h := sha256.New()
				n, err := io.Copy(h, r.Body)
				if err != nil {
					nethttp.Error(w, err.Error(), 400)
					return
				}
				fmt.Fprintf(w, "%s %s %d %x", r.Method, r.URL.Path, n, h.Sum(nil))
			}
		}),
		ConnState: func(_ net.Conn, s nethttp.ConnState) {
			if s == nethttp.StateNew {
				conns.Add(1)
			}
		},
	}
	go srv.Serve(l)
	defer srv.Close()

	client := &tundrahttp.Client{DialContext: e.st.DialContext, Timeout: 20 * time.Second}
	defer client.CloseIdleConnections()
	base := "http://" + l.Addr().String()
	get := func(path string) string {
		t.Helper()
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("GET %s: body: %v", path, err)
		}
		return string(b)
	}
	if got, want := get("/hello"), "hello HTTP/1.1 from "+stackAddr+":"; !strings.HasPrefix(got, want) {
		t.Fatalf("GET /hello: %q, want prefix %q", got, want)
	}
	if got := get("/redirect"); !strings.HasPrefix(got, "hello ") {
		t.Fatalf("redirect not followed: %q", got)
	}
	var want strings.Builder
	for i := range 50 {
		fmt.Fprintf(&want, "line %d\n", i)
	}
	if got := get("/stream"); got != want.String() {
		t.Fatalf("chunked response: %q", got)
	}
	body := randomBytes(4<<20, 3)
	resp, err := client.Post(base+"/upload", "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := fmt.Sprintf("POST /upload %d %x", len(body), sha256.Sum256(body)); string(got) != want {
		t.Fatalf("upload: server saw %q, want %q", got, want)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("the client opened %d connections for 5 sequential requests, want 1 (keep-alive)", n)
	}

	// Expect: 100-continue (RFC 9110 section 10.1.1): net/http's server
	// sends 100 when the handler reads the body, and the upload goes on;
	// when the handler refuses first, the body is never sent.
	expect := func(path string, body []byte) (*nethttp.Response, string, *countingReader) {
		t.Helper()
		rd := &countingReader{r: bytes.NewReader(body)}
		req, err := nethttp.NewRequest("POST", base+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = int64(len(body))
		req.Header.Set("Expect", "100-continue")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("POST %s with Expect: %v", path, err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(got), rd
	}
	resp, gotBody, rd := expect("/upload", body)
	if want := fmt.Sprintf("POST /upload %d %x", len(body), sha256.Sum256(body)); gotBody != want || rd.n.Load() != int64(len(body)) {
		t.Fatalf("Expect upload: server saw %q, want %q", gotBody, want)
	}
	resp, gotBody, rd = expect("/limited", body)
	if resp.StatusCode != nethttp.StatusRequestEntityTooLarge || rd.n.Load() != 0 {
		t.Fatalf("refused Expect upload: %s %q, %d body bytes read by the client", resp.Status, gotBody, rd.n.Load())
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// wrkErrors matches the lines wrk prints when something went wrong.
var wrkErrors = regexp.MustCompile(`(?m)^\s*(Socket errors|Non-2xx).*$`)

// TestWrk: wrk loads our server over 16 connections: kept-alive small
// and 100 kB responses, a new connection per request, and HTTPS. Every
// request must succeed.
func TestWrk(t *testing.T) {
	needTools(t, "wrk")
	e := newEnv(t)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"keep-alive", []string{"http://" + stackAddr + "/"}},
		{"100 kB", []string{"http://" + stackAddr + "/bytes/100000"}},
		{"close", []string{"-H", "Connection: close", "http://" + stackAddr + "/"}},
		{"https", []string{"https://" + stackAddr + "/"}},
	} {
		args := append([]string{"20", "wrk", "-t2", "-c16", "-d2s"}, tc.args...)
		out := e.mustExec("timeout", args...)
		t.Logf("wrk %s:\n%s", tc.name, out.stdout)
		if m := wrkErrors.FindString(out.stdout); m != "" {
			t.Errorf("wrk %s: %s", tc.name, strings.TrimSpace(m))
		}
		m := regexp.MustCompile(`(\d+) requests in`).FindStringSubmatch(out.stdout)
		if m == nil {
			t.Fatalf("wrk %s printed no request count:\n%s", tc.name, out.stdout)
		}
		if n, _ := strconv.Atoi(m[1]); n < 100 {
			t.Errorf("wrk %s: only %d requests in 2 s", tc.name, n)
		}
	}
}

// TestSmugglingAndMalformedRequests: requests whose framing is ambiguous
// or whose syntax is broken, sent raw from the kernel side, get 400 and the
// connection is closed, so nothing hidden after them is ever read as a
// request (RFC 9112 sections 6.3 and 11.2). Each ends with a second,
// well-formed request, which must not be answered.
func TestSmugglingAndMalformedRequests(t *testing.T) {
	e := newEnv(t)
	const smuggled = "GET /bytes/7 HTTP/1.1\r\nHost: x\r\n\r\n"
	cases := []struct{ name, request string }{
		{"content-length and transfer-encoding",
			"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{"duplicate content-length",
			"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"},
		{"content-length list",
			"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello"},
		{"obs-fold",
			"GET / HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n"},
		{"obs-fold of transfer-encoding",
			"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n"},
		{"bad chunk size",
			"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"},
		{"chunk size overflow",
			"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000001\r\nhello\r\n0\r\n\r\n"},
		{"chunk without CRLF",
			"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n"},
		{"transfer-encoding in HTTP/1.0", // RFC 9112 section 6.1: faulty framing
			"POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
		{"signed content-length",
			"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello"},
		{"whitespace before the first field", // RFC 9112 section 2.2
			"POST /echo HTTP/1.1\r\n Content-Length: 5\r\nHost: x\r\n\r\nhello"},
		{"transfer-encoding not ending in chunked",
			"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"},
		{"space in header name",
			"GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n"},
		{"space before colon",
			"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nhello"},
		{"control character in header name",
			"GET / HTTP/1.1\r\nHost: x\r\nBad\x01Name: v\r\n\r\n"},
		{"bare CR in header value",
			"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n"},
		{"missing host",
			"GET / HTTP/1.1\r\n\r\n"},
		{"two hosts",
			"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"},
	}
	dial := e.kernelDialer()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := dial(ctx, "tcp", stackAddr+":80")
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			// The write may fail once the server has closed: that is fine,
			// the response is already on its way.
			c.Write([]byte(tc.request + smuggled))
			resp, err := io.ReadAll(c)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the server kept the connection open after %q", resp)
			}
			// A reset after the 400 (unread request bytes at close) is
			// also a close; anything else is not.
			if err != nil && !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "reset") {
				t.Fatalf("read: %v after %q", err, resp)
			}
			if !bytes.HasPrefix(resp, []byte("HTTP/1.1 400 ")) {
				t.Fatalf("response %q, want 400", resp)
			}
			if n := bytes.Count(resp, []byte("HTTP/1.1 ")); n != 1 {
				t.Fatalf("%d responses: the request after the bad one was answered:\n%s", n, resp)
			}
			if !bytes.Contains(resp, []byte("\r\nConnection: close\r\n")) {
				t.Errorf("400 without Connection: close: %q", resp)
			}
		})
	}
}

// rawExchange sends request on a fresh kernel connection to our server,
// then reads until the server closes or timeout passes, and reports what
// came back and whether the server closed.
func rawExchange(t *testing.T, e *env, request string, timeout time.Duration) (resp string, closed bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := e.kernelDialer()(ctx, "tcp", stackAddr+":80")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	c.Write([]byte(request))
	b, err := io.ReadAll(c)
	var ne net.Error
	return string(b), !(errors.As(err, &ne) && ne.Timeout())
}

// statusLines returns the status lines in a stream of responses.
func statusLines(resp string) []string {
	return regexp.MustCompile(`HTTP/1\.[01] \d{3}[^\r]*`).FindAllString(resp, -1)
}

// TestRawExchanges: well-formed but demanding requests, sent raw from the
// kernel side: pipelining (RFC 9112 section 9.3.2), the head limits, and
// Expect from an HTTP/1.0 client.
func TestRawExchanges(t *testing.T) {
	e := newEnv(t)
	t.Run("pipelined", func(t *testing.T) {
		// Three requests in one write, the last closing: three answers in
		// order, then the close.
		resp, closed := rawExchange(t, e, "GET /bytes/3 HTTP/1.1\r\nHost: x\r\n\r\n"+
			"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"+
			"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 10*time.Second)
		lines := statusLines(resp)
		if len(lines) != 3 || !closed {
			t.Fatalf("%d responses, closed %v:\n%s", len(lines), closed, resp)
		}
		bodies := []string{"\r\n\r\nabc", "\r\n\r\nhello", "\r\n\r\nhello, world\n"}
		at := 0
		for i, body := range bodies {
			j := strings.Index(resp[at:], body)
			if j < 0 {
				t.Fatalf("response %d (%q) missing or out of order:\n%s", i, body, resp)
			}
			at += j + len(body)
		}
	})
	t.Run("request line too long", func(t *testing.T) {
		resp, closed := rawExchange(t, e, "GET /"+strings.Repeat("a", 9<<10)+" HTTP/1.1\r\nHost: x\r\n\r\n", 10*time.Second)
		if !strings.HasPrefix(resp, "HTTP/1.1 414 ") || !closed {
			t.Fatalf("closed %v, response %.200q, want 414", closed, resp)
		}
	})
	t.Run("too many header fields", func(t *testing.T) {
		var req strings.Builder
		req.WriteString("GET / HTTP/1.1\r\nHost: x\r\n")
		for i := range 150 {
			fmt.Fprintf(&req, "X-Field-%d: %d\r\n", i, i)
		}
		req.WriteString("\r\n")
		resp, closed := rawExchange(t, e, req.String(), 10*time.Second)
		if !strings.HasPrefix(resp, "HTTP/1.1 431 ") || !closed {
			t.Fatalf("closed %v, response %.200q, want 431", closed, resp)
		}
	})
	t.Run("HTTP/1.0 with Expect", func(t *testing.T) {
		// RFC 9110 section 10.1.1: a server must not send 100 Continue
		// to an HTTP/1.0 client.
		resp, closed := rawExchange(t, e, "POST /echo HTTP/1.0\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nhi", 10*time.Second)
		if strings.Contains(resp, " 100 ") || !strings.HasPrefix(resp, "HTTP/1.1 200 ") || !strings.HasSuffix(resp, "\r\n\r\nhi") || !closed {
			t.Fatalf("closed %v, response %q", closed, resp)
		}
	})
	t.Run("HTTP/2 preface", func(t *testing.T) {
		// A prior-knowledge HTTP/2 client is told no, not left hanging.
		resp, closed := rawExchange(t, e, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 10*time.Second)
		if !closed || !regexp.MustCompile(`^HTTP/1\.1 (400|505) `).MatchString(resp) {
			t.Fatalf("closed %v, response %q", closed, resp)
		}
	})
}
