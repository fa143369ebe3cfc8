//go:build linux

package attack

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	nethttp "net/http"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tundra-net/tundra/internal/services"
	"github.com/tundra-net/tundra/link/impair"
	"github.com/tundra-net/tundra/link/pipe"
	"github.com/tundra-net/tundra/stack"
	"github.com/tundra-net/tundra/tcp"
)

// soakDuration is how long TestSoak runs: two minutes in CI (the whole
// suite stays under ten), longer by hand.
var soakDuration = flag.Duration("attack.soak", 2*time.Minute,
	"how long TestSoak runs its workload, e.g. 10m for a long run (0: skip; at most 10 s with -short)")

// soakOpDeadline bounds one operation of the soak: a transfer not done by
// then has stalled, and fails the test.
const soakOpDeadline = 60 * time.Second

// soakLoss is the loss rate of each direction of the soak's link.
const soakLoss = 0.01

// slowOp is how long one operation of the soak may take before it is
// logged: a stall worth reading about, not a failure.
const slowOp = 5 * time.Second

// TestSoak runs, in memory and without root, a client stack and a server
// stack (the contract's services) joined by a link that loses 1% of the
// packets each way, under a mixed load for -attack.soak: bulk echo
// transfers of 4 MiB, many short connections, and HTTP POST /echo and GET
// /bytes/N requests, every transfer checked by SHA-256 or byte for byte.
// At the end every connection must be gone from both stacks, and the
// goroutines and heap back to where they were before the load.
func TestSoak(t *testing.T) {
	d := *soakDuration
	if d <= 0 {
		t.Skip("soak turned off with -attack.soak=0")
	}
	if testing.Short() {
		d = min(d, 10*time.Second)
	}
	ea, eb := pipe.New(pipe.Options{QueueLen: 4096})
	ia := impair.New(ea, impair.Config{Write: impair.Direction{Seed: 11, Loss: soakLoss}}, nil)
	ib := impair.New(eb, impair.Config{Write: impair.Direction{Seed: 12, Loss: soakLoss}}, nil)
	// The attack tests' two SYN retries would make a dial fail after 7 s
	// when three SYN exchanges in a row lose a packet: at 1% loss each way
	// about 0.02^3 = 8e-6 of dials, which a two-minute soak of some 40,000
	// dials meets in one run of four. The default retries, within dial's
	// 20 s, make it five exchanges (3e-9).
	tcpCfg := envTCPConfig()
	tcpCfg.SynRetries = tcp.DefaultConfig().SynRetries
	opts := stack.Options{TCP: tcpCfg}
	opts.Addresses = []netip.Addr{netip.MustParseAddr(kernelAddr)}
	client, err := stack.New(ia, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	opts.Addresses = []netip.Addr{netip.MustParseAddr(stackAddr)}
	watch := newWindowWatch(ib)
	server, err := stack.New(watch, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	svc, err := services.Start(server, services.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), NoHTTPS: true})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Stop()

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	baseGoroutines, baseHeap := runtime.NumGoroutine(), ms.HeapInuse

	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	dial := func() (net.Conn, error) {
		dctx, dcancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer dcancel()
		return client.DialContext(dctx, "tcp", stackAddr+":7")
	}
	var bulkBytes, shortConns, httpRequests atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	worker := func(name string, n int, once func() error) {
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					start := time.Now()
					err := once()
					if took := time.Since(start); took > slowOp {
						t.Logf("%s: one operation took %v", name, took.Round(time.Millisecond))
					}
					if err != nil {
						errs <- fmt.Errorf("%s: %w", name, err)
						return
					}
				}
			}()
		}
	}
	worker("bulk", 2, func() error {
		const size = 4 << 20
		c, err := dial()
		if err != nil {
			return err
		}
		defer c.Close()
		// A transfer that takes longer than slowOp has its two ends'
		// statistics logged every slowOp until it ends, to show a stall.
		done := make(chan struct{})
		defer close(done)
		go func() {
			start := time.Now()
			tick := time.NewTicker(slowOp)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
				}
				t.Logf("bulk: 4 MiB echo running for %v; client side: %s", time.Since(start).Round(time.Millisecond), connSummary(c.(*stack.TCPConn)))
				for _, sc := range server.TCPConns() {
					if sc.RemoteAddr().String() == c.LocalAddr().String() {
						t.Logf("bulk: server side: %s", connSummary(sc))
					}
				}
			}
		}()
		c.SetDeadline(time.Now().Add(soakOpDeadline))
		data := make([]byte, size)
		rand.Read(data)
		want := sha256.Sum256(data)
		werr := make(chan error, 1)
		go func() { _, err := c.Write(data); werr <- err }()
		h := sha256.New()
		if _, err := io.CopyN(h, c, size); err != nil {
			return err
		}
		if err := <-werr; err != nil {
			return err
		}
		if !bytes.Equal(h.Sum(nil), want[:]) {
			return fmt.Errorf("4 MiB echo: SHA-256 differs")
		}
		bulkBytes.Add(size)
		return nil
	})
	worker("short", 8, func() error {
		c, err := dial()
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(soakOpDeadline))
		msg := make([]byte, 1024)
		rand.Read(msg)
		if _, err := c.Write(msg); err != nil {
			return err
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil {
			return err
		}
		if !bytes.Equal(got, msg) {
			return fmt.Errorf("1 KiB echo differs")
		}
		shortConns.Add(1)
		return nil
	})
	httpClient := &nethttp.Client{Timeout: soakOpDeadline, Transport: &nethttp.Transport{
		MaxIdleConnsPerHost: 2, IdleConnTimeout: time.Second,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return client.DialContext(ctx, network, addr)
		},
	}}
	defer httpClient.CloseIdleConnections()
	worker("http", 3, func() error {
		body := make([]byte, 64<<10)
		rand.Read(body)
		resp, err := httpClient.Post("http://"+stackAddr+"/echo", "application/octet-stream", bytes.NewReader(body))
		if err != nil {
			return err
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != 200 || !bytes.Equal(got, body) {
			return fmt.Errorf("POST /echo: %d, %d bytes back, equal %v", resp.StatusCode, len(got), bytes.Equal(got, body))
		}
		resp, err = httpClient.Get("http://" + stackAddr + "/bytes/100000")
		if err != nil {
			return err
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || n != 100000 {
			return fmt.Errorf("GET /bytes/100000: %d bytes, %v", n, err)
		}
		httpRequests.Add(2)
		return nil
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	httpClient.CloseIdleConnections()
	t.Logf("%v at %.0f%% loss each way: %d MiB echoed in bulk, %d short connections, %d HTTP requests",
		d, soakLoss*100, bulkBytes.Load()>>20, shortConns.Load(), httpRequests.Load())
	if bulkBytes.Load() == 0 || shortConns.Load() == 0 || httpRequests.Load() == 0 {
		t.Error("a workload completed nothing")
	}
	for _, v := range watch.report() {
		t.Errorf("RFC 9293 3.8.6: %s", v)
	}
	st := client.Stats()
	t.Logf("client: %d segments out, %d retransmitted; links: %+v / %+v", st.TCP.OutSegs, st.TCP.RetransSegs, ia.Stats().Write, ib.Stats().Write)

	// Flat at the end: connections gone (TIME-WAIT is 2 s here), goroutines
	// and heap back.
	deadline := time.Now().Add(30 * time.Second)
	for {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		g, cc, sc := runtime.NumGoroutine(), client.ConnectionCount(), server.ConnectionCount()
		if cc == 0 && sc == 0 && g <= baseGoroutines+goroutineSlack && ms.HeapInuse <= baseHeap+heapSlack {
			t.Logf("after: %d goroutines (%d before), heap in use %.1f MiB (%.1f before), no connections",
				g, baseGoroutines, float64(ms.HeapInuse)/(1<<20), float64(baseHeap)/(1<<20))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not flat 30 s after the load: %d goroutines (%d before), heap %.1f MiB (%.1f before), connections %d client, %d server",
				g, baseGoroutines, float64(ms.HeapInuse)/(1<<20), float64(baseHeap)/(1<<20), cc, sc)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// connSummary is the part of a connection's statistics that explains a
// stall.
func connSummary(c *stack.TCPConn) string {
	s := c.Stats()
	return fmt.Sprintf("state %v, in flight %d, send buffered %d, receive buffered %d (+%d out of order), "+
		"retransmissions %d (timeouts %d, fast %d, TLP %d), RTO %v, srtt %v, cwnd %d, ssthresh %d, send window %d, receive window %d, in recovery %v, "+
		"segments %d out %d in, SACKed %d, PAWS rejected %d, challenge ACKs %d, out-of-order dropped %d, bytes sent %d acked %d received %d",
		s.State, s.BytesInFlight, s.SendBuffered, s.ReceiveBuffered, s.OutOfOrderQueued,
		s.Retransmissions, s.Timeouts, s.FastRetransmits, s.TailLossProbes, s.RTO, s.SRTT,
		s.CongestionWindow, s.SlowStartThresh, s.SendWindow, s.ReceiveWindow, s.InRecovery,
		s.SegmentsSent, s.SegmentsReceived, s.SACKedBytes, s.PAWSRejected, s.ChallengeACKs, s.OutOfOrderDropped,
		s.BytesSent, s.BytesAcked, s.BytesReceived)
}
