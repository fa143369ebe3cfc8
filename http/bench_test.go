package http

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	nethttp "net/http"
	"syscall"
	"testing"
	"time"
)

// The benchmarks run our Server and net/http's Server side by side, each on
// its own kernel loopback listener, with the contract handler, under the
// same load: parallel keep-alive connections driven by loadConn, a
// minimal client that allocates nothing per request, so allocs/op is the
// server's cost. Compare with
//
//	go test -run XXX -bench 'Server' -benchmem ./http/

// loadConn is one keep-alive connection of the load generator.
type loadConn struct {
	conn net.Conn
	br   *bufio.Reader
	req  []byte
}

func dialLoad(b *testing.B, addr string, req []byte) *loadConn {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	return &loadConn{conn: conn, br: bufio.NewReaderSize(conn, 64<<10), req: req}
}

var errNoLength = errors.New("response without Content-Length")

// roundTrip sends the request and reads one Content-Length response,
// returning the body size.
func (lc *loadConn) roundTrip() (int, error) {
	if _, err := lc.conn.Write(lc.req); err != nil {
		return 0, err
	}
	length := -1
	status := true
	for {
		line, err := lc.br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if status {
			if len(line) < 12 || string(line[9:12]) != "200" {
				return 0, fmt.Errorf("status line %q", line)
			}
			status = false
			continue
		}
		if len(line) <= 2 {
			break
		}
		if len(line) > 16 && (line[0] == 'C' || line[0] == 'c') && bytes.EqualFold(line[:15], []byte("content-length:")) {
			length = 0
			for _, c := range bytes.TrimSpace(line[15:]) {
				if c < '0' || c > '9' {
					return 0, fmt.Errorf("bad Content-Length %q", line)
				}
				length = length*10 + int(c-'0')
			}
		}
	}
	if length < 0 {
		return 0, errNoLength
	}
	_, err := lc.br.Discard(length)
	return length, err
}

// serveBoth starts our server or net/http's on a loopback listener.
func serveForBench(b *testing.B, which string, h nethttp.Handler) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	switch which {
	case "tundra":
		s := &Server{Handler: h}
		go s.Serve(l)
		b.Cleanup(func() { s.Close() })
	case "net-http":
		s := &nethttp.Server{Handler: h}
		go s.Serve(l)
		b.Cleanup(func() { s.Close() })
	}
	return l.Addr().String()
}

func runLoad(b *testing.B, which string, req []byte, bytesPerOp int64) {
	addr := serveForBench(b, which, ContractHandler())
	b.ReportAllocs()
	if bytesPerOp > 0 {
		b.SetBytes(bytesPerOp)
	}
	cpuBefore := processCPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		lc := dialLoad(b, addr, req)
		defer lc.conn.Close()
		for pb.Next() {
			if _, err := lc.roundTrip(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	// CPU time per request (user+system, the whole process: the same load
	// generator plus the server under test) barely depends on how busy the
	// machine is, unlike req/s on a shared machine.
	b.ReportMetric(float64((processCPU()-cpuBefore).Nanoseconds())/float64(b.N)/1000, "cpu-µs/req")
}

// processCPU returns the user and system CPU time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var servers = []string{"tundra", "net-http"}

// BenchmarkServerGet is the simple keep-alive GET of "hello, world\n".
func BenchmarkServerGet(b *testing.B) {
	req := []byte("GET / HTTP/1.1\r\nHost: bench.test\r\nUser-Agent: load/1\r\nAccept: */*\r\n\r\n")
	for _, which := range servers {
		b.Run(which, func(b *testing.B) { runLoad(b, which, req, 0) })
	}
}

// BenchmarkServerEcho posts 1 KiB to /echo and reads it back.
func BenchmarkServerEcho(b *testing.B) {
	body := bytes.Repeat([]byte("e"), 1024)
	req := append([]byte("POST /echo HTTP/1.1\r\nHost: bench.test\r\nContent-Length: 1024\r\n\r\n"), body...)
	for _, which := range servers {
		b.Run(which, func(b *testing.B) { runLoad(b, which, req, 1024) })
	}
}

// BenchmarkServerBytes downloads 1 MiB from /bytes/N.
func BenchmarkServerBytes(b *testing.B) {
	req := []byte("GET /bytes/1048576 HTTP/1.1\r\nHost: bench.test\r\n\r\n")
	for _, which := range servers {
		b.Run(which, func(b *testing.B) { runLoad(b, which, req, 1<<20) })
	}
}

// BenchmarkClientGet measures our Client against our server, and
// net/http's Client against net/http's server, for the same keep-alive GET.
func BenchmarkClientGet(b *testing.B) {
	b.Run("tundra", func(b *testing.B) {
		addr := serveForBench(b, "tundra", ContractHandler())
		c := &Client{MaxIdleConnsPerHost: 64}
		defer c.CloseIdleConnections()
		benchClient(b, func() (*nethttp.Response, error) { return c.Get("http://" + addr + "/") })
	})
	b.Run("net-http", func(b *testing.B) {
		addr := serveForBench(b, "net-http", ContractHandler())
		c := &nethttp.Client{Transport: &nethttp.Transport{MaxIdleConnsPerHost: 64}}
		defer c.CloseIdleConnections()
		benchClient(b, func() (*nethttp.Response, error) { return c.Get("http://" + addr + "/") })
	})
}

func benchClient(b *testing.B, get func() (*nethttp.Response, error)) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 64)
		for pb.Next() {
			resp, err := get()
			if err != nil {
				b.Error(err)
				return
			}
			for {
				if _, err := resp.Body.Read(buf); err != nil {
					break
				}
			}
			resp.Body.Close()
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// TestServerAllocsPerKeepAliveGET checks the allocation budget of a simple
// keep-alive GET (at most 2), counted over many requests on one
// connection. It counts allocations, not time, so it cannot flake on a
// slow machine.
func TestServerAllocsPerKeepAliveGET(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation count needs a quiet process")
	}
	_, addr := startServer(t, ContractHandler())
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	lc := &loadConn{conn: conn, br: bufio.NewReaderSize(conn, 64<<10),
		req: []byte("GET / HTTP/1.1\r\nHost: bench.test\r\nUser-Agent: load/1\r\nAccept: */*\r\n\r\n")}
	for i := 0; i < 100; i++ { // warm the pools and the Date cache
		if _, err := lc.roundTrip(); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(2000, func() {
		if _, err := lc.roundTrip(); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("%.2f allocations per keep-alive GET", allocs)
	if allocs > 2 {
		t.Errorf("%.2f allocations per keep-alive GET, budget is 2", allocs)
	}
}
