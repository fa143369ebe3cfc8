package pipe

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/tundra-net/tundra/internal/linktest"
	"github.com/tundra-net/tundra/link"
)

// batch returns n packets whose buffers have capacity size.
func batch(n, size int) []link.Packet {
	pkts := make([]link.Packet, n)
	for i := range pkts {
		pkts[i].Data = make([]byte, 0, size)
	}
	return pkts
}

func packet(seq byte, size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = seq + byte(i)
	}
	return b
}

func TestWriteThenRead(t *testing.T) {
	a, b := New(Options{})
	want := [][]byte{packet(1, 20), packet(2, 1500), packet(3, 60)}
	out := make([]link.Packet, len(want))
	for i := range want {
		out[i].Data = want[i]
	}
	if n, err := a.WritePackets(out); n != 3 || err != nil {
		t.Fatalf("WritePackets = %d, %v; want 3, nil", n, err)
	}
	if got := b.Pending(); got != 3 {
		t.Fatalf("Pending = %d, want 3", got)
	}
	in := batch(8, b.MaxPacketSize())
	n, err := b.ReadPackets(in)
	if n != 3 || err != nil {
		t.Fatalf("ReadPackets = %d, %v; want 3, nil", n, err)
	}
	for i := range want {
		if !bytes.Equal(in[i].Data, want[i]) {
			t.Errorf("packet %d differs", i)
		}
	}
	if st := a.Stats(); st != (Stats{Sent: 3}) {
		t.Errorf("a.Stats = %+v", st)
	}
	if st := b.Stats(); st != (Stats{Delivered: 3}) {
		t.Errorf("b.Stats = %+v", st)
	}
	// The other direction is independent.
	if n, err := b.WritePackets(out[:1]); n != 1 || err != nil {
		t.Fatalf("b.WritePackets = %d, %v", n, err)
	}
	if n, err := a.PollPackets(in); n != 1 || err != nil || !bytes.Equal(in[0].Data, want[0]) {
		t.Fatalf("a.PollPackets = %d, %v", n, err)
	}
}

func TestWriterMayReuseBuffer(t *testing.T) {
	a, b := New(Options{})
	buf := packet(7, 100)
	orig := bytes.Clone(buf)
	a.WritePackets([]link.Packet{{Data: buf}})
	for i := range buf {
		buf[i] = 0xff
	}
	in := batch(1, 1500)
	if _, err := b.ReadPackets(in); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(in[0].Data, orig) {
		t.Fatal("pipe kept a reference to the writer's buffer")
	}
}

func TestBatchSmallerThanQueue(t *testing.T) {
	a, b := New(Options{})
	for i := range 5 {
		a.WritePackets([]link.Packet{{Data: packet(byte(i), 40)}})
	}
	in := batch(2, 1500)
	for _, want := range []int{2, 2, 1} {
		n, err := b.PollPackets(in)
		if n != want || err != nil {
			t.Fatalf("PollPackets = %d, %v; want %d", n, err, want)
		}
	}
	if n, err := b.PollPackets(in); n != 0 || err != nil {
		t.Fatalf("PollPackets on empty = %d, %v; want 0, nil", n, err)
	}
}

func TestOrderAcrossWraparound(t *testing.T) {
	a, b := New(Options{QueueLen: 3})
	in := batch(2, 1500)
	next := byte(0)
	for round := range 10 {
		for range 2 {
			a.WritePackets([]link.Packet{{Data: packet(byte(round*2)+next%2, 30)}})
			next++
		}
		n, err := b.PollPackets(in)
		if n != 2 || err != nil {
			t.Fatalf("round %d: %d, %v", round, n, err)
		}
		for i := range 2 {
			if in[i].Data[0] != byte(round*2+i) {
				t.Fatalf("round %d packet %d: first byte %d", round, i, in[i].Data[0])
			}
		}
	}
}

func TestFullQueueDrops(t *testing.T) {
	a, b := New(Options{QueueLen: 4})
	out := make([]link.Packet, 6)
	for i := range out {
		out[i].Data = packet(byte(i), 50)
	}
	// A full queue drops like a wire: the packets are still "taken".
	if n, err := a.WritePackets(out); n != 6 || err != nil {
		t.Fatalf("WritePackets = %d, %v; want 6, nil", n, err)
	}
	if st := a.Stats(); st.Sent != 4 || st.Dropped != 2 {
		t.Fatalf("Stats = %+v; want 4 sent, 2 dropped", st)
	}
	in := batch(8, 1500)
	n, _ := b.PollPackets(in)
	if n != 4 {
		t.Fatalf("read %d, want the 4 that fit", n)
	}
	for i := range n {
		if in[i].Data[0] != byte(i) {
			t.Errorf("packet %d is #%d: the oldest must survive, the newest drop", i, in[i].Data[0])
		}
	}
}

func TestTooLarge(t *testing.T) {
	a, b := New(Options{MTU: 100})
	out := []link.Packet{{Data: packet(0, 100)}, {Data: packet(1, 101)}, {Data: packet(2, 10)}}
	n, err := a.WritePackets(out)
	if n != 1 || !errors.Is(err, ErrPacketTooLarge) {
		t.Fatalf("WritePackets = %d, %v; want 1, ErrPacketTooLarge", n, err)
	}
	if b.Pending() != 1 {
		t.Fatalf("Pending = %d, want 1", b.Pending())
	}
	// Without TSO, a GSO packet may not exceed the MTU either.
	_, err = a.WritePackets([]link.Packet{{Data: packet(0, 200), Offload: link.Offload{GSOType: link.GSOTCPv4, GSOSize: 60}}})
	if !errors.Is(err, ErrPacketTooLarge) {
		t.Fatalf("super-packet on a plain pipe: %v", err)
	}
}

func TestShortBuffer(t *testing.T) {
	a, b := New(Options{})
	a.WritePackets([]link.Packet{{Data: packet(0, 40)}, {Data: packet(1, 1000)}})
	in := []link.Packet{{Data: make([]byte, 0, 100)}, {Data: make([]byte, 0, 100)}}
	if n, err := b.PollPackets(in); n != 1 || err != nil {
		t.Fatalf("first read = %d, %v; want 1 (second does not fit)", n, err)
	}
	if n, err := b.PollPackets(in); n != 0 || !errors.Is(err, io.ErrShortBuffer) {
		t.Fatalf("second read = %d, %v; want io.ErrShortBuffer", n, err)
	}
	if b.Pending() != 1 {
		t.Fatal("a packet that did not fit must stay queued")
	}
}

func TestOffloadsCarried(t *testing.T) {
	off := link.Offloads{TSO4: true, Checksum: true}
	a, b := New(Options{Offloads: off})
	if a.Offloads() != off || b.MaxPacketSize() != 65535 || a.MTU() != 1500 {
		t.Fatalf("Offloads %+v, MaxPacketSize %d, MTU %d", a.Offloads(), b.MaxPacketSize(), a.MTU())
	}
	meta := link.Offload{GSOType: link.GSOTCPv4, GSOSize: 1448, NeedsChecksum: true, ChecksumStart: 20, ChecksumOffset: 16}
	big := packet(9, 64000)
	if n, err := a.WritePackets([]link.Packet{{Data: big, Offload: meta}}); n != 1 || err != nil {
		t.Fatalf("WritePackets = %d, %v", n, err)
	}
	in := batch(1, b.MaxPacketSize())
	if _, err := b.ReadPackets(in); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(in[0].Data, big) || in[0].Offload != meta {
		t.Fatalf("super-packet or its metadata changed: offload %+v", in[0].Offload)
	}
	// A plain packet after it gets zero metadata back.
	a.WritePackets([]link.Packet{{Data: packet(1, 40)}})
	b.ReadPackets(in)
	if in[0].Offload != (link.Offload{}) {
		t.Fatalf("stale offload metadata: %+v", in[0].Offload)
	}
}

func TestCloseUnblocksRead(t *testing.T) {
	a, b := New(Options{})
	linktest.CloseUnblocks(t, b, "ReadPackets", func() error {
		_, err := b.ReadPackets(batch(1, 1500))
		return err
	})
	if _, err := b.WritePackets([]link.Packet{{Data: packet(0, 20)}}); !errors.Is(err, link.ErrClosed) {
		t.Fatalf("WritePackets after Close = %v", err)
	}
	// The peer's writes now fall on the floor, counted.
	if n, err := a.WritePackets([]link.Packet{{Data: packet(0, 20)}}); n != 1 || err != nil {
		t.Fatalf("peer WritePackets = %d, %v", n, err)
	}
	if st := a.Stats(); st.Dropped != 1 {
		t.Fatalf("peer Stats = %+v; want 1 dropped", st)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestConcurrentWriters(t *testing.T) {
	const writers, each = 4, 2000
	a, b := New(Options{QueueLen: writers * each})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			p := []link.Packet{{Data: make([]byte, 20)}}
			for i := range each {
				p[0].Data[0] = byte(w)
				p[0].Data[1], p[0].Data[2] = byte(i>>8), byte(i)
				a.WritePackets(p)
			}
		})
	}
	lastSeen := make([]int, writers)
	for i := range lastSeen {
		lastSeen[i] = -1
	}
	in := batch(64, 1500)
	got := 0
	for got < writers*each {
		n, err := b.ReadPackets(in)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range in[:n] {
			w, i := int(p.Data[0]), int(p.Data[1])<<8|int(p.Data[2])
			if i <= lastSeen[w] {
				t.Fatalf("writer %d: packet %d after %d", w, i, lastSeen[w])
			}
			lastSeen[w] = i
		}
		got += n
	}
	wg.Wait()
	if st := a.Stats(); st.Sent != writers*each || st.Dropped != 0 {
		t.Fatalf("Stats = %+v", st)
	}
}

func TestNoAllocationsInSteadyState(t *testing.T) {
	a, b := New(Options{QueueLen: 64})
	out := make([]link.Packet, 32)
	for i := range out {
		out[i].Data = packet(byte(i), 1400)
	}
	in := batch(32, 1500)
	round := func() {
		a.WritePackets(out)
		b.ReadPackets(in)
	}
	round() // fill the slots' buffers once
	if allocs := testing.AllocsPerRun(100, round); allocs != 0 {
		t.Fatalf("%v allocations per 32-packet round trip, want 0", allocs)
	}
}

// BenchmarkPipe measures packets per second through one direction of a pipe,
// written and read in batches of 64 by one goroutine.
func BenchmarkPipe(b *testing.B) {
	for _, size := range []int{64, 1500} {
		b.Run(sizeName(size), func(b *testing.B) {
			x, y := New(Options{})
			out := make([]link.Packet, 64)
			for i := range out {
				out[i].Data = packet(byte(i), size)
			}
			in := batch(64, 1500)
			b.SetBytes(int64(size * len(out)))
			b.ReportAllocs()
			for b.Loop() {
				x.WritePackets(out)
				y.ReadPackets(in)
			}
			b.ReportMetric(float64(b.N*len(out))/b.Elapsed().Seconds(), "pkts/s")
		})
	}
}

// BenchmarkPipeConcurrent measures packets per second with the writer and
// the reader on different goroutines, the way a stack uses a link. The
// writer yields while the queue has no room for a batch, as a stack paced by
// congestion control would, so drop% should stay near zero.
func BenchmarkPipeConcurrent(b *testing.B) {
	x, y := New(Options{})
	out := make([]link.Packet, 64)
	for i := range out {
		out[i].Data = packet(byte(i), 1500)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		in := batch(64, 1500)
		for {
			if _, err := y.ReadPackets(in); err != nil {
				return
			}
		}
	}()
	b.SetBytes(int64(1500 * len(out)))
	b.ReportAllocs()
	for b.Loop() {
		for y.Pending() > DefaultQueueLen-len(out) {
			runtime.Gosched()
		}
		x.WritePackets(out)
	}
	for y.Pending() > 0 {
		time.Sleep(time.Millisecond)
	}
	y.Close()
	<-done
	st := x.Stats()
	b.ReportMetric(float64(y.Stats().Delivered)/b.Elapsed().Seconds(), "pkts/s")
	b.ReportMetric(100*float64(st.Dropped)/float64(st.Sent+st.Dropped), "drop%")
}

func sizeName(n int) string {
	if n == 64 {
		return "64B"
	}
	return "1500B"
}

// As a link.Poller (linktest.Poller), and one that WaitPackets blocks
// while nothing is queued and takes nothing.
func TestPoller(t *testing.T) {
	a, b := New(Options{})
	first := linktest.Poller(t, b, func() {
		a.WritePackets([]link.Packet{{Data: packet(1, 20)}})
	})
	if !bytes.Equal(first, packet(1, 20)) {
		t.Fatalf("polled % x, want % x", first, packet(1, 20))
	}

	a, b = New(Options{})
	woke := make(chan error, 1)
	go func() { woke <- b.WaitPackets() }()
	select {
	case err := <-woke:
		t.Fatalf("WaitPackets returned %v with nothing queued", err)
	case <-time.After(10 * time.Millisecond):
	}
	a.WritePackets([]link.Packet{{Data: packet(1, 20)}, {Data: packet(2, 20)}})
	select {
	case err := <-woke:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WaitPackets still blocked 5s after a packet was queued")
	}
	if b.Pending() != 2 {
		t.Fatalf("WaitPackets took packets: %d pending, want 2", b.Pending())
	}
}
