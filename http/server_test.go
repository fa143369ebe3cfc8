package http

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	nethttp "net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// startServer serves h on a kernel loopback listener and stops the server
// when the test ends.
func startServer(t testing.TB, h nethttp.Handler, configure ...func(*Server)) (*Server, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Handler: h, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, f := range configure {
		f(s)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; !errors.Is(err, nethttp.ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	})
	return s, l.Addr().String()
}

// rawClient is a test client that writes bytes by hand and parses the
// answers with net/http's own response parser, so that the server's output
// is checked by an independent implementation.
type rawClient struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
}

func dialRaw(t testing.TB, addr string) *rawClient {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { conn.Close() })
	return &rawClient{t: t, conn: conn, br: bufio.NewReader(conn)}
}

func (rc *rawClient) send(s string) {
	rc.t.Helper()
	if _, err := io.WriteString(rc.conn, s); err != nil {
		rc.t.Fatal(err)
	}
}

// response reads one response to a request with the given method and
// returns it with its body.
func (rc *rawClient) response(method string) (*nethttp.Response, string) {
	rc.t.Helper()
	resp, err := nethttp.ReadResponse(rc.br, &nethttp.Request{Method: method})
	if err != nil {
		rc.t.Fatalf("reading response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		rc.t.Fatalf("reading body: %v", err)
	}
	return resp, string(body)
}

// expectEOF checks that the server closed the connection.
func (rc *rawClient) expectEOF() {
	rc.t.Helper()
	rc.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := rc.br.ReadByte()
	if err == nil {
		rest, _ := rc.br.Peek(rc.br.Buffered())
		rc.t.Fatalf("connection still open, got %q", append([]byte{b}, rest...))
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		rc.t.Fatalf("connection not closed: %v", err)
	}
}

var echoPath = nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
	fmt.Fprintf(w, "%s %s", r.Method, r.URL.Path)
})

func TestServerKeepAlive(t *testing.T) {
	var mu sync.Mutex
	remotes := map[string]int{}
	_, addr := startServer(t, nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		mu.Lock()
		remotes[r.RemoteAddr]++
		mu.Unlock()
		fmt.Fprintf(w, "path=%s x=%s", r.URL.Path, r.Header.Get("X-Req"))
	}))
	rc := dialRaw(t, addr)
	for i := 0; i < 3; i++ {
		rc.send(fmt.Sprintf("GET /p%d HTTP/1.1\r\nHost: a\r\nX-Req: %d\r\n\r\n", i, i))
		resp, body := rc.response("GET")
		if want := fmt.Sprintf("path=/p%d x=%d", i, i); body != want || resp.StatusCode != 200 {
			t.Fatalf("request %d: %d %q, want %q", i, resp.StatusCode, body, want)
		}
		if resp.ContentLength != int64(len(body)) || resp.Close {
			t.Fatalf("ContentLength %d Close %v", resp.ContentLength, resp.Close)
		}
		if resp.Header.Get("Date") == "" || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Fatalf("missing Date or sniffed Content-Type: %v", resp.Header)
		}
	}
	if len(remotes) != 1 {
		t.Fatalf("requests came on %d connections, want 1", len(remotes))
	}
}

func TestServerPipelining(t *testing.T) {
	// The first request is the slowest; responses must still come in
	// request order (RFC 9112 section 9.3.2).
	_, addr := startServer(t, nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		switch r.URL.Path {
		case "/slow":
			time.Sleep(50 * time.Millisecond)
		case "/body":
			b, _ := io.ReadAll(r.Body)
			w.Write(b)
			return
		}
		io.WriteString(w, r.URL.Path)
	}))
	rc := dialRaw(t, addr)
	rc.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n" +
		"POST /body HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello" +
		"HEAD /head HTTP/1.1\r\nHost: a\r\n\r\n" +
		"POST /body HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" +
		"GET /last HTTP/1.1\r\nHost: a\r\n\r\n")
	for _, want := range []struct{ method, body string }{
		{"GET", "/slow"}, {"POST", "hello"}, {"HEAD", ""}, {"POST", "abc"}, {"GET", "/last"},
	} {
		resp, body := rc.response(want.method)
		if body != want.body {
			t.Fatalf("got %q, want %q", body, want.body)
		}
		if want.method == "HEAD" && resp.ContentLength != int64(len("/head")) {
			t.Fatalf("HEAD Content-Length %d", resp.ContentLength)
		}
	}
}

func TestServerHTTP10(t *testing.T) {
	_, addr := startServer(t, nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		if r.URL.Path == "/stream" {
			io.WriteString(w, "part one,")
			w.(nethttp.Flusher).Flush()
			io.WriteString(w, " part two")
			return
		}
		io.WriteString(w, "hi")
	}))

	t.Run("closes by default", func(t *testing.T) {
		rc := dialRaw(t, addr)
		rc.send("GET / HTTP/1.0\r\n\r\n")
		resp, body := rc.response("GET")
		if body != "hi" || !resp.Close {
			t.Fatalf("body %q Close %v header %v", body, resp.Close, resp.Header)
		}
		rc.expectEOF()
	})
	t.Run("keep-alive honoured", func(t *testing.T) {
		rc := dialRaw(t, addr)
		for i := 0; i < 2; i++ {
			rc.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
			resp, body := rc.response("GET")
			if body != "hi" || resp.Close || resp.Header.Get("Connection") != "keep-alive" {
				t.Fatalf("body %q Close %v header %v", body, resp.Close, resp.Header)
			}
		}
	})
	t.Run("unknown length ends with close, never chunked", func(t *testing.T) {
		rc := dialRaw(t, addr)
		rc.send("GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
		resp, body := rc.response("GET")
		if body != "part one, part two" || len(resp.TransferEncoding) != 0 || resp.ContentLength != -1 {
			t.Fatalf("body %q TE %v CL %d", body, resp.TransferEncoding, resp.ContentLength)
		}
		rc.expectEOF()
	})
}

func TestServerChunkedResponse(t *testing.T) {
	payload := strings.Repeat("0123456789", 1000) // larger than the pending buffer
	_, addr := startServer(t, nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		w.Header().Set("Trailer", "X-Sum")
		for i := 0; i < len(payload); i += 1000 {
			io.WriteString(w, payload[i:i+1000])
		}
		w.Header().Set("X-Sum", "42")
		w.Header().Set(nethttp.TrailerPrefix+"X-Late", "yes")
	}))
	rc := dialRaw(t, addr)
	for i := 0; i < 2; i++ {
		rc.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		resp, body := rc.response("GET")
		if body != payload {
			t.Fatalf("body of %d bytes differs", len(body))
		}
		if len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
			t.Fatalf("TransferEncoding %v", resp.TransferEncoding)
		}
		if resp.Trailer.Get("X-Sum") != "42" || resp.Trailer.Get("X-Late") != "yes" {
			t.Fatalf("trailer %v", resp.Trailer)
		}
	}
}

func TestServerHEADAndNoBodyStatuses(t *testing.T) {
	_, addr := startServer(t, nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		switch r.URL.Path {
		case "/204":
			w.WriteHeader(204)
			if _, err := io.WriteString(w, "x"); err != nethttp.ErrBodyNotAllowed {
				t.Errorf("write to 204: %v", err)
			}
		case "/304":
			w.WriteHeader(304)
		default:
			ContractHandler().ServeHTTP(w, r)
		}
	}))
	rc := dialRaw(t, addr)
	rc.send("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n")
	resp, _ := rc.response("HEAD")
	if resp.ContentLength != 13 {
		t.Fatalf("HEAD / Content-Length %d, want 13", resp.ContentLength)
	}
	rc.send("HEAD /bytes/100000 HTTP/1.1\r\nHost: a\r\n\r\n")
	resp, _ = rc.response("HEAD")
	if resp.ContentLength != 100000 {
		t.Fatalf("HEAD /bytes Content-Length %d", resp.ContentLength)
	}
	rc.send("GET /204 HTTP/1.1\r\nHost: a\r\n\r\n")
	resp, _ = rc.response("GET")
	if resp.StatusCode != 204 || resp.Header.Get("Content-Length") != "" {
		t.Fatalf("204: %v", resp.Header)
	}
	rc.send("GET /304 HTTP/1.1\r\nHost: a\r\n\r\n")
	if resp, _ = rc.response("GET"); resp.StatusCode != 304 {
		t.Fatalf("304: %d", resp.StatusCode)
	}
	// No body bytes leaked into the stream: the connection still works.
	rc.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if _, body := rc.response("GET"); body != "hello, world\n" {
		t.Fatalf("after HEAD: %q", body)
	}
}

func TestServerExpectContinue(t *testing.T) {
	_, addr := startServer(t, nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		if r.URL.Path == "/reject" {
			w.WriteHeader(413)
			return
		}
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	}))

	t.Run("100 sent when the handler reads", func(t *testing.T) {
		rc := dialRaw(t, addr)
		rc.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
		line, err := rc.br.ReadString('\n')
		if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
			t.Fatalf("got %q, %v", line, err)
		}
		if blank, _ := rc.br.ReadString('\n'); blank != "\r\n" {
			t.Fatalf("got %q after 100", blank)
		}
		rc.send("hello")
		if resp, body := rc.response("POST"); resp.StatusCode != 200 || body != "hello" {
			t.Fatalf("%d %q", resp.StatusCode, body)
		}
		// The connection is still usable.
		rc.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok")
		if _, body := rc.response("POST"); body != "ok" {
			t.Fatalf("second request: %q", body)
		}
	})
	t.Run("no 100 when the handler does not read", func(t *testing.T) {
		rc := dialRaw(t, addr)
		rc.send("POST /reject HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
		resp, _ := rc.response("POST")
		if resp.StatusCode != 413 || !resp.Close {
			t.Fatalf("got %d close=%v, want 413 with close", resp.StatusCode, resp.Close)
		}
		rc.expectEOF()
	})
	t.Run("other expectations get 417", func(t *testing.T) {
		rc := dialRaw(t, addr)
		rc.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: tea\r\n\r\nhello")
		if resp, _ := rc.response("POST"); resp.StatusCode != 417 {
			t.Fatalf("got %d, want 417", resp.StatusCode)
		}
		rc.expectEOF()
	})
	t.Run("HTTP/1.0 ignores the expectation", func(t *testing.T) {
		rc := dialRaw(t, addr)
		rc.send("POST /echo HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello")
		resp, body := rc.response("POST")
		if resp.StatusCode != 200 || body != "hello" {
			t.Fatalf("%d %q", resp.StatusCode, body)
		}
	})
}

// TestServerSmuggling sends ambiguous or malformed requests, each followed
// by a pipelined request that must never be answered: the server replies
// 400 (or 501 for an unknown coding) and closes.
func TestServerSmuggling(t *testing.T) {
	_, addr := startServer(t, nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			nethttp.Error(w, "handler saw: "+err.Error(), 500)
			return
		}
		fmt.Fprintf(w, "%s got %q", r.URL.Path, b)
	}))
	const smuggled = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"
	cases := []struct {
		name, raw string
		status    int
	}{
		{"CL.TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX", 400},
		{"TE.CL", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n", 400},
		{"TE with space before colon", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400},
		{"TE obfuscated value", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 400},
		{"TE folded", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", 400},
		{"TE chunked then identity", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 400},
		{"TE gzip, chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501},
		{"conflicting CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 30\r\n\r\nabc", 400},
		{"duplicate CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400},
		{"CL with sign", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc", 400},
		{"bare LF header end", "POST / HTTP/1.1\r\nHost: a\r\nX: y\nContent-Length: 3\r\n\r\nabc", 400},
		{"bare CR", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400},
		{"CTL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n", 400},
		{"chunk size overflow", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000001\r\nx\r\n0\r\n\r\n", 400},
		{"chunk size non-hex", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5g\r\nhello\r\n0\r\n\r\n", 400},
		{"chunk ext without semicolon", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5 x\r\nhello\r\n0\r\n\r\n", 400},
		{"chunk data overrun", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n", 400},
		{"chunk LF terminators", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n", 400},
		{"no Host in 1.1", "GET / HTTP/1.1\r\n\r\n", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, addr)
			rc.send(tc.raw + smuggled)
			resp, body := rc.response("POST")
			if resp.StatusCode != tc.status || !resp.Close {
				t.Fatalf("got %d close=%v %q, want %d and close", resp.StatusCode, resp.Close, body, tc.status)
			}
			rc.expectEOF()
		})
	}
}

func TestServerHeaderLimits(t *testing.T) {
	_, addr := startServer(t, echoPath, func(s *Server) {
		s.Limits = Limits{MaxStartLineBytes: 64, MaxHeaderBytes: 512, MaxHeaderCount: 4}
	})
	for _, tc := range []struct {
		raw    string
		status int
	}{
		{"GET /" + strings.Repeat("a", 100) + " HTTP/1.1\r\nHost: a\r\n\r\n", 414},
		{"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", 431},
		{"GET / HTTP/1.1\r\nHost: a\r\nA: " + strings.Repeat("x", 600) + "\r\n\r\n", 431},
	} {
		rc := dialRaw(t, addr)
		rc.send(tc.raw)
		if resp, _ := rc.response("GET"); resp.StatusCode != tc.status {
			t.Errorf("got %d, want %d", resp.StatusCode, tc.status)
		}
		rc.expectEOF()
	}
	rc := dialRaw(t, addr)
	rc.send("GET /ok HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n")
	if _, body := rc.response("GET"); body != "GET /ok" {
		t.Fatalf("within limits: %q", body)
	}
}

func TestServerPanicRecovery(t *testing.T) {
	var logBuf syncBuffer
	_, addr := startServer(t, nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		switch r.URL.Path {
		case "/panic":
			panic("boom")
		case "/panic-after-write":
			io.WriteString(w, strings.Repeat("x", 10000))
			w.(nethttp.Flusher).Flush()
			panic("late boom")
		case "/abort":
			panic(nethttp.ErrAbortHandler)
		}
		io.WriteString(w, "fine")
	}), func(s *Server) { s.Logger = slog.New(slog.NewTextHandler(&logBuf, nil)) })

	rc := dialRaw(t, addr)
	rc.send("GET /panic HTTP/1.1\r\nHost: a\r\n\r\n")
	if resp, _ := rc.response("GET"); resp.StatusCode != 500 || !resp.Close {
		t.Fatalf("got %d close=%v, want 500 with close", resp.StatusCode, resp.Close)
	}
	rc.expectEOF()
	if !strings.Contains(logBuf.String(), "boom") {
		t.Fatalf("panic not logged: %q", logBuf.String())
	}

	rc = dialRaw(t, addr)
	rc.send("GET /panic-after-write HTTP/1.1\r\nHost: a\r\n\r\n")
	resp, err := nethttp.ReadResponse(rc.br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Fatalf("truncated chunked body read without error")
	}

	rc = dialRaw(t, addr)
	rc.send("GET /abort HTTP/1.1\r\nHost: a\r\n\r\n")
	rc.response("GET")
	if strings.Contains(logBuf.String(), "abort") {
		t.Fatalf("ErrAbortHandler logged: %q", logBuf.String())
	}

	// The server goes on.
	rc = dialRaw(t, addr)
	rc.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if _, body := rc.response("GET"); body != "fine" {
		t.Fatalf("after panics: %q", body)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServerTimeouts(t *testing.T) {
	t.Run("read header timeout", func(t *testing.T) {
		_, addr := startServer(t, echoPath, func(s *Server) { s.ReadHeaderTimeout = 100 * time.Millisecond })
		rc := dialRaw(t, addr)
		rc.send("GET / HTTP/1.1\r\nHost: a\r\n") // never finished
		start := time.Now()
		rc.expectEOF()
		if time.Since(start) > 3*time.Second {
			t.Fatalf("took %v", time.Since(start))
		}
	})
	t.Run("idle timeout", func(t *testing.T) {
		_, addr := startServer(t, echoPath, func(s *Server) { s.IdleTimeout = 100 * time.Millisecond })
		rc := dialRaw(t, addr)
		rc.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		rc.response("GET")
		rc.expectEOF()
	})
	t.Run("read timeout on a slow body", func(t *testing.T) {
		errc := make(chan error, 1)
		_, addr := startServer(t, nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
			_, err := io.ReadAll(r.Body)
			errc <- err
		}), func(s *Server) { s.ReadTimeout = 100 * time.Millisecond })
		rc := dialRaw(t, addr)
		rc.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nhalf")
		var ne net.Error
		if err := <-errc; !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("handler read error %v, want a timeout", err)
		}
		rc.response("POST")
		rc.expectEOF()
	})
	t.Run("write timeout", func(t *testing.T) {
		errc := make(chan error, 1)
		_, addr := startServer(t, nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
			// Write far more than the socket buffers hold to a client that
			// never reads: the write must fail at the deadline.
			block := bytes.Repeat([]byte("x"), 1<<20)
			var err error
			for i := 0; i < 256 && err == nil; i++ {
				_, err = w.Write(block)
			}
			errc <- err
		}), func(s *Server) { s.WriteTimeout = 200 * time.Millisecond })
		rc := dialRaw(t, addr)
		rc.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		select {
		case err := <-errc:
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("write error %v, want a timeout", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("write never timed out")
		}
	})
}

func TestServerShutdown(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{})
	s, addr := startServer(t, nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		if r.URL.Path == "/block" {
			close(entered)
			<-release
		}
		io.WriteString(w, "done")
	}))
	idle := dialRaw(t, addr)
	idle.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	idle.response("GET")
	active := dialRaw(t, addr)
	active.send("GET /block HTTP/1.1\r\nHost: a\r\n\r\n")
	<-entered

	// A context that ends while the request is active: Shutdown gives up.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want deadline exceeded", err)
	}
	idle.expectEOF() // the idle connection was closed at once
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Fatalf("listener still accepting")
	}

	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	close(release)
	resp, body := active.response("GET")
	if body != "done" || !resp.Close {
		t.Fatalf("active request: %q close=%v", body, resp.Close)
	}
	active.expectEOF()
	if err := <-done; err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
}

func TestServerCloseEndsActiveConnections(t *testing.T) {
	entered := make(chan struct{})
	s, addr := startServer(t, nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		close(entered)
		io.ReadAll(r.Body) // blocks until the connection is closed
	}))
	rc := dialRaw(t, addr)
	rc.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n")
	<-entered
	s.Close()
	rc.expectEOF()
}

func TestServerUnreadBody(t *testing.T) {
	_, addr := startServer(t, echoPath, func(s *Server) { s.MaxBodyDrainBytes = 1024 })
	rc := dialRaw(t, addr)
	// A small unread body is drained and the connection kept.
	rc.send("POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n" + strings.Repeat("x", 100))
	if resp, _ := rc.response("POST"); resp.Close {
		t.Fatalf("closed after a small unread body")
	}
	rc.send("POST /b HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n" + strings.Repeat("x", 100) + "\r\n0\r\n\r\n")
	if resp, body := rc.response("POST"); resp.Close || body != "POST /b" {
		t.Fatalf("chunked unread body: close=%v %q", resp.Close, body)
	}
	// A large one closes the connection instead.
	rc.send("POST /c HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n")
	if resp, _ := rc.response("POST"); !resp.Close {
		t.Fatalf("kept alive after a large unread body")
	}
	rc.expectEOF()
}

func TestServerShortContentLength(t *testing.T) {
	_, addr := startServer(t, nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		w.Header().Set("Content-Length", "10")
		io.WriteString(w, "12345")
		if _, err := io.WriteString(w, "678901"); err != nethttp.ErrContentLength {
			t.Errorf("overlong write: %v", err)
		}
	}))
	rc := dialRaw(t, addr)
	rc.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	resp, err := nethttp.ReadResponse(rc.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(resp.Body); err != io.ErrUnexpectedEOF {
		t.Fatalf("short body read: %v, want unexpected EOF (connection closed)", err)
	}
}

func TestServerHijack(t *testing.T) {
	_, addr := startServer(t, nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		conn, brw, err := w.(nethttp.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\n\r\n")
		brw.Flush()
		line, _ := brw.ReadString('\n')
		brw.WriteString("echo: " + line)
		brw.Flush()
	}))
	rc := dialRaw(t, addr)
	rc.send("GET / HTTP/1.1\r\nHost: a\r\n\r\nearly line\n")
	status, _ := rc.br.ReadString('\n')
	rc.br.ReadString('\n')
	got, _ := rc.br.ReadString('\n')
	if status != "HTTP/1.1 101 Switching Protocols\r\n" || got != "echo: early line\n" {
		t.Fatalf("got %q %q", status, got)
	}
}

func TestServerServeMuxAndRequestReuse(t *testing.T) {
	mux := nethttp.NewServeMux()
	var mu sync.Mutex
	var seen []string
	mux.HandleFunc("GET /items/{id}", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		mu.Lock()
		seen = append(seen, r.PathValue("id")+":"+r.Header.Get("X-A")+":"+r.URL.Query().Get("q"))
		mu.Unlock()
		fmt.Fprintf(w, "item %s", r.PathValue("id"))
	})
	for _, reuse := range []bool{true, false} {
		seen = nil
		_, addr := startServer(t, mux, func(s *Server) { s.DisableRequestReuse = !reuse })
		rc := dialRaw(t, addr)
		rc.send("GET /items/1?q=x HTTP/1.1\r\nHost: a\r\nX-A: one\r\n\r\n")
		rc.response("GET")
		rc.send("GET /items/2 HTTP/1.1\r\nHost: a\r\n\r\n")
		rc.response("GET")
		rc.send("POST /items/3 HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
		if resp, _ := rc.response("POST"); resp.StatusCode != 405 {
			t.Fatalf("POST to GET route: %d", resp.StatusCode)
		}
		mu.Lock()
		if strings.Join(seen, ",") != "1:one:x,2::" {
			t.Fatalf("reuse=%v: seen %v", reuse, seen)
		}
		mu.Unlock()
	}
}

func TestServerDisableKeepAlives(t *testing.T) {
	_, addr := startServer(t, echoPath, func(s *Server) { s.DisableKeepAlives = true })
	rc := dialRaw(t, addr)
	rc.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if resp, _ := rc.response("GET"); !resp.Close {
		t.Fatalf("no Connection: close")
	}
	rc.expectEOF()
}

func TestServerConnectionCloseRequest(t *testing.T) {
	_, addr := startServer(t, echoPath)
	rc := dialRaw(t, addr)
	rc.send("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /never HTTP/1.1\r\nHost: a\r\n\r\n")
	if resp, body := rc.response("GET"); !resp.Close || body != "GET /" {
		t.Fatalf("close=%v %q", resp.Close, body)
	}
	rc.expectEOF()
}

func TestServerInterimResponses(t *testing.T) {
	_, addr := startServer(t, nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(103)
		w.Header().Del("Link")
		io.WriteString(w, "final")
	}))
	rc := dialRaw(t, addr)
	rc.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	line, _ := rc.br.ReadString('\n')
	if line != "HTTP/1.1 103 Early Hints\r\n" {
		t.Fatalf("got %q", line)
	}
	for {
		l, _ := rc.br.ReadString('\n')
		if l == "\r\n" {
			break
		}
	}
	if _, body := rc.response("GET"); body != "final" {
		t.Fatalf("final body %q", body)
	}
}

func TestServerResponseSplittingPrevented(t *testing.T) {
	_, addr := startServer(t, nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		w.Header()["X-Injected"] = []string{"a\r\nSet-Cookie: evil=1"}
		w.Header()["Bad Name"] = []string{"x"}
		io.WriteString(w, "ok")
	}))
	rc := dialRaw(t, addr)
	rc.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	resp, _ := rc.response("GET")
	if resp.Header.Get("Set-Cookie") != "" || resp.Header.Get("X-Injected") != "a  Set-Cookie: evil=1" {
		t.Fatalf("header %v", resp.Header)
	}
}

func TestServerTrailerOnRequest(t *testing.T) {
	_, addr := startServer(t, nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		declared := fmt.Sprint(r.Trailer)
		io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s -> %s", declared, r.Trailer.Get("X-Sum"))
	}))
	rc := dialRaw(t, addr)
	rc.send("POST / HTTP/1.1\r\nHost: a\r\nTrailer: X-Sum\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 7\r\n\r\n")
	if _, body := rc.response("POST"); body != "map[X-Sum:[]] -> 7" {
		t.Fatalf("got %q", body)
	}
}

func TestServerOptionsAsterisk(t *testing.T) {
	_, addr := startServer(t, echoPath)
	rc := dialRaw(t, addr)
	rc.send("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")
	if resp, body := rc.response("OPTIONS"); resp.StatusCode != 200 || body != "" || resp.ContentLength != 0 {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	_, addr = startServer(t, echoPath, func(s *Server) { s.DisableGeneralOptionsHandler = true })
	rc = dialRaw(t, addr)
	rc.send("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")
	if _, body := rc.response("OPTIONS"); body != "OPTIONS *" {
		t.Fatalf("handler saw %q", body)
	}
}

func TestServerCloseCancelsRequestContext(t *testing.T) {
	entered := make(chan struct{})
	returned := make(chan struct{})
	s, addr := startServer(t, nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		close(entered)
		<-r.Context().Done()
		close(returned)
	}))
	rc := dialRaw(t, addr)
	rc.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	<-entered
	s.Close()
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("request context not cancelled by Close")
	}
}
