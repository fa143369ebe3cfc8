package http

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingServer is a net/http test server that counts the connections
// it accepts.
func countingServer(t *testing.T, h nethttp.Handler) (*httptest.Server, *atomic.Int32) {
	var conns atomic.Int32
	ts := httptest.NewUnstartedServer(h)
	ts.Config.ConnState = func(_ net.Conn, s nethttp.ConnState) {
		if s == nethttp.StateNew {
			conns.Add(1)
		}
	}
	ts.Start()
	t.Cleanup(ts.Close)
	return ts, &conns
}

func readBody(t *testing.T, resp *nethttp.Response, err error) string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestClientKeepAliveAgainstNetHTTP(t *testing.T) {
	ts, conns := countingServer(t, nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		fmt.Fprintf(w, "%s %s ua=%s", r.Method, r.URL.Path, r.UserAgent())
	}))
	c := &Client{}
	defer c.CloseIdleConnections()
	for i := 0; i < 5; i++ {
		resp, err := c.Get(ts.URL + "/x")
		if got := readBody(t, resp, err); got != "GET /x ua="+DefaultUserAgent {
			t.Fatalf("got %q", got)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for 5 sequential requests, want 1", n)
	}
}

func TestClientBodiesBothWays(t *testing.T) {
	for _, server := range []string{"net/http", "tundra"} {
		t.Run(server, func(t *testing.T) {
			var url string
			if server == "net/http" {
				ts, _ := countingServer(t, nethttp.HandlerFunc(netHTTPEcho))
				url = ts.URL
			} else {
				_, addr := startServer(t, nethttp.HandlerFunc(netHTTPEcho))
				url = "http://" + addr
			}
			c := &Client{}
			defer c.CloseIdleConnections()

			// Known length: Content-Length.
			resp, err := c.Post(url+"/echo", "text/plain", strings.NewReader("sized body"))
			if got := readBody(t, resp, err); got != "len=10 te=[] body=sized body trailer=" {
				t.Fatalf("sized: %q", got)
			}
			// Unknown length: chunked, with a trailer.
			pr, pw := io.Pipe()
			go func() {
				pw.Write([]byte("streamed "))
				pw.Write([]byte("body"))
				pw.Close()
			}()
			req, _ := nethttp.NewRequest("PUT", url+"/echo", pr)
			req.Trailer = nethttp.Header{"X-Sum": {"99"}}
			resp, err = c.Do(req)
			if got := readBody(t, resp, err); got != "len=-1 te=[chunked] body=streamed body trailer=99" {
				t.Fatalf("chunked: %q", got)
			}
			// A large chunked response, read to the end.
			resp, err = c.Get(url + "/big")
			got := readBody(t, resp, err)
			if len(got) != 1<<20 || resp.ContentLength != -1 {
				t.Fatalf("big: %d bytes, ContentLength %d", len(got), resp.ContentLength)
			}
			if resp.Trailer.Get("X-End") != "yes" {
				t.Fatalf("response trailer %v", resp.Trailer)
			}
		})
	}
}

// netHTTPEcho describes the request body it got, or streams 1 MiB for /big.
func netHTTPEcho(w nethttp.ResponseWriter, r *nethttp.Request) {
	if r.URL.Path == "/big" {
		w.Header().Set("Trailer", "X-End")
		chunk := bytes.Repeat([]byte("z"), 64<<10)
		for i := 0; i < 16; i++ {
			w.Write(chunk)
			w.(nethttp.Flusher).Flush()
		}
		w.Header().Set("X-End", "yes")
		return
	}
	b, _ := io.ReadAll(r.Body)
	fmt.Fprintf(w, "len=%d te=%v body=%s trailer=%s", r.ContentLength, r.TransferEncoding, b, r.Trailer.Get("X-Sum"))
}

func TestClientEarlyCloseOfBody(t *testing.T) {
	ts, conns := countingServer(t, nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		n := 1000
		if r.URL.Path == "/large" {
			n = 4 << 20
		}
		w.Header().Set("Content-Length", fmt.Sprint(n))
		w.Write(bytes.Repeat([]byte("y"), n))
	}))
	c := &Client{}
	defer c.CloseIdleConnections()
	get := func(path string) {
		resp, err := c.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 10)
		io.ReadFull(resp.Body, buf)
		resp.Body.Close()
		if _, err := resp.Body.Read(buf); err == nil {
			t.Fatalf("Read after Close succeeded")
		}
	}
	get("/small")
	get("/small")
	if n := conns.Load(); n != 1 {
		t.Fatalf("small remainder: %d connections, want 1 (drained and reused)", n)
	}
	get("/large")
	get("/small")
	if n := conns.Load(); n != 2 {
		t.Fatalf("large remainder: %d connections, want 2 (closed, not drained)", n)
	}
}

func TestClientReadsHTTP10BodyToClose(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var accepted atomic.Int32
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer conn.Close()
				buf := make([]byte, 4096)
				conn.Read(buf)
				io.WriteString(conn, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nno length, ends at close")
			}()
		}
	}()
	c := &Client{}
	for i := 0; i < 2; i++ {
		resp, err := c.Get("http://" + l.Addr().String() + "/")
		if got := readBody(t, resp, err); got != "no length, ends at close" || !resp.Close || resp.ContentLength != -1 {
			t.Fatalf("got %q close=%v cl=%d", got, resp.Close, resp.ContentLength)
		}
	}
	if accepted.Load() != 2 {
		t.Fatalf("a close-delimited connection was reused")
	}
}

func TestClientRedirects(t *testing.T) {
	var mu sync.Mutex
	var log []string
	mux := nethttp.NewServeMux()
	record := func(r *nethttp.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		log = append(log, fmt.Sprintf("%s %s %q auth=%q", r.Method, r.URL.Path, b, r.Header.Get("Authorization")))
		mu.Unlock()
	}
	for _, code := range []int{301, 302, 303, 307, 308} {
		code := code
		mux.HandleFunc(fmt.Sprintf("/r%d", code), func(w nethttp.ResponseWriter, r *nethttp.Request) {
			record(r)
			nethttp.Redirect(w, r, "/final", code)
		})
	}
	mux.HandleFunc("/final", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		record(r)
		io.WriteString(w, "arrived")
	})
	mux.HandleFunc("/loop", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		nethttp.Redirect(w, r, "/loop", 302)
	})
	_, addr := startServer(t, mux)
	base := "http://" + addr
	c := &Client{}
	defer c.CloseIdleConnections()

	want := map[int]string{
		301: `POST /r301 "data" auth="x",GET /final "" auth="x"`,
		302: `POST /r302 "data" auth="x",GET /final "" auth="x"`,
		303: `POST /r303 "data" auth="x",GET /final "" auth="x"`,
		307: `POST /r307 "data" auth="x",POST /final "data" auth="x"`,
		308: `POST /r308 "data" auth="x",POST /final "data" auth="x"`,
	}
	for code, w := range want {
		log = nil
		req, _ := nethttp.NewRequest("POST", fmt.Sprintf("%s/r%d", base, code), strings.NewReader("data"))
		req.Header.Set("Authorization", "x")
		resp, err := c.Do(req)
		if got := readBody(t, resp, err); got != "arrived" || resp.Request.URL.Path != "/final" {
			t.Fatalf("%d: %q", code, got)
		}
		mu.Lock()
		if strings.Join(log, ",") != w {
			t.Errorf("%d: %s\nwant %s", code, strings.Join(log, ","), w)
		}
		mu.Unlock()
	}

	_, err := c.Get(base + "/loop")
	if err == nil || !strings.Contains(err.Error(), "stopped after 10 redirects") {
		t.Fatalf("loop: %v", err)
	}
	noFollow := &Client{MaxRedirects: -1}
	resp, err := noFollow.Get(base + "/r302")
	readBody(t, resp, err)
	if resp.StatusCode != 302 {
		t.Fatalf("MaxRedirects -1: status %d", resp.StatusCode)
	}
}

func TestClientRedirectDropsCredentialsAcrossHosts(t *testing.T) {
	var auth atomic.Value
	other, _ := countingServer(t, nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		auth.Store(r.Header.Get("Authorization") + "|" + r.Header.Get("Cookie"))
	}))
	first, _ := countingServer(t, nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		nethttp.Redirect(w, r, other.URL+"/x", 302)
	}))
	req, _ := nethttp.NewRequest("GET", first.URL, nil)
	req.Header.Set("Authorization", "secret")
	req.Header.Set("Cookie", "c=1")
	resp, err := (&Client{}).Do(req)
	readBody(t, resp, err)
	if got := auth.Load(); got != "|" {
		t.Fatalf("credentials followed to another host: %q", got)
	}
}

func TestClientTimeoutsAndCancel(t *testing.T) {
	unblock := make(chan struct{})
	defer close(unblock)
	ts, _ := countingServer(t, nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		if r.URL.Path == "/slow-body" {
			w.Write([]byte("first part"))
			w.(nethttp.Flusher).Flush()
		}
		select {
		case <-unblock:
		case <-r.Context().Done():
		}
	}))

	c := &Client{Timeout: 100 * time.Millisecond}
	start := time.Now()
	_, err := c.Get(ts.URL + "/slow-head")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Timeout: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("Timeout took %v", time.Since(start))
	}

	c = &Client{ResponseHeaderTimeout: 100 * time.Millisecond}
	_, err = c.Get(ts.URL + "/slow-head")
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("ResponseHeaderTimeout: %v", err)
	}

	// Cancelling the context while the body is being read.
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := nethttp.NewRequestWithContext(ctx, "GET", ts.URL+"/slow-body", nil)
	resp, err := (&Client{}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = io.ReadAll(resp.Body)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("read after cancel: %v", err)
	}
	resp.Body.Close()
}

func TestClientMaxConnsPerHost(t *testing.T) {
	var inFlight, peak atomic.Int32
	ts, conns := countingServer(t, nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		inFlight.Add(-1)
		io.WriteString(w, "ok")
	}))
	c := &Client{MaxConnsPerHost: 2}
	defer c.CloseIdleConnections()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Get(ts.URL)
			if err != nil {
				t.Error(err)
				return
			}
			io.ReadAll(resp.Body)
			resp.Body.Close()
		}()
	}
	wg.Wait()
	if peak.Load() > 2 || conns.Load() > 2 {
		t.Fatalf("peak %d concurrent, %d connections; limit 2", peak.Load(), conns.Load())
	}

	// A waiter gives up when its context ends.
	hold, err := c.Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	hold2, err := c.Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := nethttp.NewRequestWithContext(ctx, "GET", ts.URL, nil)
	if _, err := c.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting past the limit: %v", err)
	}
	hold.Body.Close()
	hold2.Body.Close()
}

func TestClientIdleConnTimeoutAndMaxIdle(t *testing.T) {
	ts, conns := countingServer(t, nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {}))
	c := &Client{IdleConnTimeout: 30 * time.Millisecond}
	resp, err := c.Get(ts.URL)
	readBody(t, resp, err)
	time.Sleep(100 * time.Millisecond)
	resp, err = c.Get(ts.URL)
	readBody(t, resp, err)
	if conns.Load() != 2 {
		t.Fatalf("idle connection reused after its timeout (%d conns)", conns.Load())
	}

	noKeep := &Client{MaxIdleConnsPerHost: -1}
	before := conns.Load()
	for i := 0; i < 3; i++ {
		resp, err := noKeep.Get(ts.URL)
		readBody(t, resp, err)
	}
	if conns.Load()-before != 3 {
		t.Fatalf("keep-alive disabled but connections reused")
	}
}

func TestClientRetriesStalePooledConnection(t *testing.T) {
	// Our server closes idle connections after 50ms; the client's pooled
	// connection is then dead, and a GET must transparently use a new one.
	_, addr := startServer(t, echoPath, func(s *Server) { s.IdleTimeout = 50 * time.Millisecond })
	c := &Client{}
	defer c.CloseIdleConnections()
	resp, err := c.Get("http://" + addr + "/a")
	readBody(t, resp, err)
	time.Sleep(150 * time.Millisecond)
	resp, err = c.Get("http://" + addr + "/b")
	if got := readBody(t, resp, err); got != "GET /b" {
		t.Fatalf("got %q", got)
	}
}

func TestClientExpectContinue(t *testing.T) {
	var bodyReads atomic.Int32
	_, addr := startServer(t, nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		if r.URL.Path == "/reject" {
			w.WriteHeader(413)
			return
		}
		b, _ := io.ReadAll(r.Body)
		bodyReads.Add(1)
		w.Write(b)
	}))
	c := &Client{ExpectContinueTimeout: 5 * time.Second}
	req, _ := nethttp.NewRequest("POST", "http://"+addr+"/echo", strings.NewReader("payload"))
	req.Header.Set("Expect", "100-continue")
	resp, err := c.Do(req)
	if got := readBody(t, resp, err); got != "payload" {
		t.Fatalf("got %q", got)
	}
	req, _ = nethttp.NewRequest("POST", "http://"+addr+"/reject", strings.NewReader("payload"))
	req.Header.Set("Expect", "100-continue")
	start := time.Now()
	resp, err = c.Do(req)
	readBody(t, resp, err)
	if resp.StatusCode != 413 || time.Since(start) > 4*time.Second {
		t.Fatalf("reject: %d after %v", resp.StatusCode, time.Since(start))
	}
	if bodyReads.Load() != 1 {
		t.Fatalf("body reads %d", bodyReads.Load())
	}
}

func TestClientCustomDialer(t *testing.T) {
	_, addr := startServer(t, ContractHandler())
	var dials atomic.Int32
	c := &Client{DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
		dials.Add(1)
		return (&net.Dialer{}).DialContext(ctx, network, addr) // every host goes to our server
	}}
	defer c.CloseIdleConnections()
	for i := 0; i < 3; i++ {
		resp, err := c.Get("http://tundra.test/")
		if got := readBody(t, resp, err); got != "hello, world\n" {
			t.Fatalf("got %q", got)
		}
	}
	resp, err := c.Get("http://tundra.test/bytes/100000")
	if got := readBody(t, resp, err); len(got) != 100000 {
		t.Fatalf("got %d bytes", len(got))
	}
	if dials.Load() != 1 {
		t.Fatalf("%d dials", dials.Load())
	}
	if _, err := c.Get("https://tundra.test/"); err == nil {
		t.Fatalf("https without DialTLSContext succeeded")
	}
	if _, err := c.Get("ftp://tundra.test/"); err == nil {
		t.Fatalf("ftp succeeded")
	}
}

func TestClientRejectsBadRequests(t *testing.T) {
	_, addr := startServer(t, echoPath)
	c := &Client{}
	req, _ := nethttp.NewRequest("GET", "http://"+addr+"/", nil)
	req.Header["X-Bad"] = []string{"a\r\nInjected: 1"}
	if _, err := c.Do(req); err == nil {
		t.Fatalf("header injection accepted")
	}
	req, _ = nethttp.NewRequest("GET", "http://"+addr+"/", nil)
	req.Header["Bad Name"] = []string{"x"}
	if _, err := c.Do(req); err == nil {
		t.Fatalf("bad header name accepted")
	}
}

func TestClientRejectsAmbiguousResponses(t *testing.T) {
	for name, raw := range map[string]string{
		"conflicting lengths": "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
		"bad status line":     "HTTP/1.1 2xx OK\r\n\r\n",
		"bad chunk":           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"header injection":    "HTTP/1.1 200 OK\r\nX: a\x00b\r\nContent-Length: 0\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			go func() {
				conn, err := l.Accept()
				if err != nil {
					return
				}
				defer conn.Close()
				conn.Read(make([]byte, 4096))
				io.WriteString(conn, raw)
			}()
			resp, err := (&Client{}).Get("http://" + l.Addr().String())
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			if err == nil {
				t.Fatalf("accepted")
			}
		})
	}
}

// TestConcurrentLoad drives our server with both clients at once, many
// connections and mixed requests, and checks every body. Bounded: 16
// workers times 40 requests.
func TestConcurrentLoad(t *testing.T) {
	_, addr := startServer(t, ContractHandler())
	base := "http://" + addr
	ours := &Client{MaxConnsPerHost: 8}
	theirs := &nethttp.Client{Transport: &nethttp.Transport{MaxIdleConnsPerHost: 8}}
	defer ours.CloseIdleConnections()
	defer theirs.CloseIdleConnections()
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				n := (w*977 + i*131) % 70000
				var resp *nethttp.Response
				var err error
				var want string
				switch i % 3 {
				case 0:
					want = string(patternBlock[:min(n, len(patternBlock))])
					if n > len(patternBlock) {
						want = strings.Repeat(string(patternBlock), n/len(patternBlock)+1)[:n]
					}
					url := fmt.Sprintf("%s/bytes/%d", base, n)
					if w%2 == 0 {
						resp, err = ours.Get(url)
					} else {
						resp, err = theirs.Get(url)
					}
				case 1:
					want = strings.Repeat("q", n)
					body := io.Reader(strings.NewReader(want))
					if i%2 == 0 {
						body = io.MultiReader(body) // unknown length: chunked
					}
					if w%2 == 0 {
						resp, err = ours.Post(base+"/echo", "text/plain", body)
					} else {
						resp, err = theirs.Post(base+"/echo", "text/plain", body)
					}
				case 2:
					want = "hello, world\n"
					resp, err = ours.Get(base + "/")
				}
				if err != nil {
					t.Error(err)
					return
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(got) != want {
					t.Errorf("worker %d request %d: %d bytes, %v; want %d bytes", w, i, len(got), err, len(want))
					return
				}
			}
		}(w)
	}
	wg.Wait()
}

func TestTLSBothWays(t *testing.T) {
	// The server on a crypto/tls listener sets Request.TLS; the client
	// reaches https URLs through DialTLSContext. tundra's tls package
	// provides both over the stack's sockets; here crypto/tls over loopback
	// stands in for it.
	ts := httptest.NewUnstartedServer(nil)
	ts.StartTLS() // only for its certificate and client config
	defer ts.Close()
	serverTLS := ts.TLS
	clientTLS := ts.Client().Transport.(*nethttp.Transport).TLSClientConfig

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{Handler: nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		fmt.Fprintf(w, "tls=%v version=%x", r.TLS != nil, r.TLS.Version)
	})}
	go srv.Serve(tls.NewListener(l, serverTLS))
	defer srv.Close()

	c := &Client{DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := &tls.Dialer{Config: clientTLS.Clone()}
		d.Config.ServerName = "example.com" // the name in httptest's certificate
		return d.DialContext(ctx, network, l.Addr().String())
	}}
	defer c.CloseIdleConnections()
	for i := 0; i < 2; i++ {
		resp, err := c.Get("https://example.com/")
		if got := readBody(t, resp, err); got != "tls=true version=304" {
			t.Fatalf("got %q", got)
		}
	}
}

func TestClientBasicAuthFromURL(t *testing.T) {
	_, addr := startServer(t, nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		user, pass, ok := r.BasicAuth()
		fmt.Fprintf(w, "%v %s %s %s", ok, user, pass, r.RequestURI)
	}))
	resp, err := (&Client{}).Get("http://alice:s3cret@" + addr + "/private")
	if got := readBody(t, resp, err); got != "true alice s3cret /private" {
		t.Fatalf("got %q", got)
	}
}

func TestClientResponseHeaderLimits(t *testing.T) {
	ts, _ := countingServer(t, nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		for i := 0; i < 20; i++ {
			w.Header().Add(fmt.Sprintf("X-H%d", i), strings.Repeat("v", 100))
		}
	}))
	if _, err := (&Client{Limits: Limits{MaxHeaderCount: 10}}).Get(ts.URL); err == nil {
		t.Fatalf("20 header fields accepted with a limit of 10")
	}
	if _, err := (&Client{Limits: Limits{MaxHeaderBytes: 1000}}).Get(ts.URL); err == nil {
		t.Fatalf("2 KiB head accepted with a limit of 1000 bytes")
	}
	resp, err := (&Client{}).Get(ts.URL)
	readBody(t, resp, err)
}
