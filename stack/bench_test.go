package stack

import (
	"io"
	"testing"
	"time"

	"github.com/tundra-net/tundra/tcp"
)

// BenchmarkBulkOverPipe measures one-way bulk transfer between two stacks
// joined by link/pipe, each with its own pump: the whole data path (socket
// write, segmentation, IPv4, checksum, the link, demultiplexing,
// reassembly, ACKs, socket read) with no kernel involved.
func BenchmarkBulkOverPipe(b *testing.B) {
	a, s := stackPair(b, nil, Options{})
	c1, c2 := connPair(b, a, s)
	defer c1.Close()
	defer c2.Close()
	buf := make([]byte, 64<<10)
	done := make(chan error, 1)
	total := int64(b.N) * int64(len(buf))
	go func() {
		_, err := io.CopyN(io.Discard, c2, total)
		done <- err
	}()
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := c1.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRoundTripOverPipe measures 1-byte request-response round trips
// on one connection between two stacks joined by link/pipe, the server
// echoing with io.Copy as compare.sh's rr workload does: each trip is a
// segment each way and two goroutine hand-offs on each stack (pump to
// reader, reader's write back), with no kernel involved. It reports the
// mean trip time as ns/op.
func BenchmarkRoundTripOverPipe(b *testing.B) {
	a, s := stackPair(b, nil, Options{})
	c1, c2 := connPair(b, a, s)
	defer c1.Close()
	defer c2.Close()
	go io.Copy(c2, c2)
	msg := []byte{'x'}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := c1.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c1, msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConnectEchoClose measures connections per second: dial, one
// small echo, close.
func BenchmarkConnectEchoClose(b *testing.B) {
	// The dialer closes first and keeps TIME-WAIT: shorten it so that the
	// 28,232 ephemeral ports are not used up by a long run.
	cfg := tcp.DefaultConfig()
	cfg.MSL = 50 * time.Millisecond
	a, s := stackPair(b, nil, Options{TCP: cfg})
	l, err := s.Listen("tcp", ":7")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	msg := []byte("x")
	b.ReportAllocs()
	for range b.N {
		c, err := a.Dial("tcp", addrB.String()+":7")
		if err != nil {
			b.Fatal(err)
		}
		c.Write(msg)
		if _, err := io.ReadFull(c, msg); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

// TestBulkPathAllocatesNothing proves the in-memory bulk path allocates
// nothing per segment in steady state: a 64 KiB write on one stack, read
// in full on the other, goes through about 45 segments and their ACKs
// (socket write, segmentation, IPv4, checksum, the pipe, the pumps,
// demultiplexing, the receive ring, socket read) without a single
// allocation on average. AllocsPerRun counts every goroutine's allocations,
// the pumps' included.
func TestBulkPathAllocatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation count needs a warm pool")
	}
	if raceEnabled {
		t.Skip("the race detector allocates, and sync.Pool drops items under it")
	}
	a, s := stackPair(t, nil, Options{})
	c1, c2 := connPair(t, a, s)
	buf := make([]byte, 64<<10)
	got := make([]byte, 64<<10)
	round := func() {
		if _, err := c1.Write(buf); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c2, got); err != nil {
			t.Fatal(err)
		}
	}
	for range 200 { // warm the buffer pools
		round()
	}
	allocs := testing.AllocsPerRun(500, round)
	segments := float64(len(buf)) / float64(c1.Stats().SendMSS)
	t.Logf("%.2f allocations per 64 KiB round (%.0f segments): %.4f per segment", allocs, segments, allocs/segments)
	if allocs/segments > 0.02 {
		t.Errorf("%.3f allocations per segment, want 0", allocs/segments)
	}
}
