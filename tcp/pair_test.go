package tcp

import (
	"bytes"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"testing"
	"time"
)

// A back-to-back network of two Conns in memory, with a virtual clock, a
// one-way delay and seeded loss, duplication and reordering. Segments go
// through the real wire code: encoded with HeaderFields.Encode, checksummed,
// parsed back with ParseSegment.

type packet struct {
	at  time.Time
	to  *Conn
	buf []byte
}

type impairment struct {
	loss, dup, reorder float64 // probabilities per segment
	delay, jitter      time.Duration
}

type pairNet struct {
	t       testing.TB
	now     time.Time
	rng     *rand.Rand
	imp     impairment
	queue   []packet
	a, b    *Conn
	sent    int
	free    [][]byte // recycled packet buffers
	bufSize int      // capacity of a packet buffer
	ladder  []string // optional textbook trace
	trace   bool
}

type pairOutput struct {
	n    *pairNet
	peer **Conn
	src  [4]byte
	dst  [4]byte
}

func (o *pairOutput) SendSegment(id FourTuple, f HeaderFields, p Payload) {
	n := o.n
	var buf []byte
	if k := len(n.free); k > 0 {
		buf, n.free = n.free[k-1][:0], n.free[:k-1]
	} else {
		buf = make([]byte, 0, n.bufSize)
	}
	hl := f.Len()
	buf = buf[:hl]
	if _, err := f.Encode(buf); err != nil {
		n.t.Fatalf("encode: %v", err)
	}
	buf = p.AppendTo(buf)
	SetChecksum(buf, o.src, o.dst)
	n.sent++
	imp := n.imp
	if imp.loss > 0 && n.rng.Float64() < imp.loss {
		n.free = append(n.free, buf)
		return
	}
	at := n.now.Add(imp.delay)
	if imp.reorder > 0 && n.rng.Float64() < imp.reorder {
		at = at.Add(time.Duration(n.rng.Int64N(int64(imp.jitter) + 1)))
	}
	n.queue = append(n.queue, packet{at: at, to: *o.peer, buf: buf})
	if imp.dup > 0 && n.rng.Float64() < imp.dup {
		n.queue = append(n.queue, packet{at: at.Add(time.Millisecond), to: *o.peer, buf: append(make([]byte, 0, n.bufSize), buf...)})
	}
}

func newPairNet(t testing.TB, cfgA, cfgB Config, imp impairment, seed uint64) *pairNet {
	n := &pairNet{t: t, now: epoch, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b9)), imp: imp,
		bufSize: MaxHeaderLen + max(cfgA.MSS, cfgB.MSS, cfgA.GSOMaxSize, cfgB.GSOMaxSize)}
	idA := FourTuple{LocalAddr: localAddr, RemoteAddr: remoteAddr, LocalPort: 40000, RemotePort: 80}
	idB := FourTuple{LocalAddr: remoteAddr, RemoteAddr: localAddr, LocalPort: 80, RemotePort: 40000}
	n.a = NewConn(cfgA, idA, Seq(seed*7919), &pairOutput{n: n, peer: &n.b, src: localAddr, dst: remoteAddr})
	n.b = NewConn(cfgB, idB, Seq(seed*104729+0xfffff000), &pairOutput{n: n, peer: &n.a, src: remoteAddr, dst: localAddr})
	return n
}

// step runs the next event (a packet arrival or a timer) and reports false
// when nothing is left to do.
func (n *pairNet) step() bool {
	next := time.Time{}
	idx := -1
	for i, p := range n.queue {
		if idx < 0 || p.at.Before(next) {
			next, idx = p.at, i
		}
	}
	for _, c := range []*Conn{n.a, n.b} {
		if d, ok := c.Deadline(); ok && (next.IsZero() || d.Before(next)) {
			next, idx = d, -1
		}
	}
	if next.IsZero() {
		return false
	}
	if next.After(n.now) {
		n.now = next
	}
	if idx >= 0 {
		p := n.queue[idx]
		n.queue = append(n.queue[:idx], n.queue[idx+1:]...)
		n.deliver(p)
		return true
	}
	for _, c := range []*Conn{n.a, n.b} {
		if d, ok := c.Deadline(); ok && !n.now.Before(d) {
			c.HandleTimer(n.now)
		}
	}
	return true
}

func (n *pairNet) deliver(p packet) {
	var src, dst [4]byte
	if p.to == n.b {
		src, dst = localAddr, remoteAddr
	} else {
		src, dst = remoteAddr, localAddr
	}
	h, err := ParseHeader(p.buf)
	if err != nil || !h.ChecksumValid(src, dst) {
		n.t.Fatalf("bad segment on the wire: %v", err)
	}
	seg, err := SegmentFromHeader(h)
	if err != nil {
		n.t.Fatal(err)
	}
	p.to.HandleSegment(seg, n.now)
	n.free = append(n.free, p.buf)
}

// transfer opens a connection (a active, b passive), sends sizeA bytes from
// a to b and sizeB bytes from b to a at once, closes both, and checks the
// SHA-256 of what arrived on each side. It returns the virtual time it took.
func transfer(t testing.TB, n *pairNet, sizeA, sizeB int, seed uint64) time.Duration {
	if err := n.b.Listen(); err != nil {
		t.Fatal(err)
	}
	if err := n.a.Connect(n.now); err != nil {
		t.Fatal(err)
	}
	src := rand.New(rand.NewPCG(seed, 1))
	dataA := make([]byte, sizeA)
	dataB := make([]byte, sizeB)
	for i := range dataA {
		dataA[i] = byte(src.Uint32())
	}
	for i := range dataB {
		dataB[i] = byte(src.Uint32())
	}
	type side struct {
		c        *Conn
		out      []byte
		written  int
		closed   bool
		got      sha256Writer
		eof      bool
		received int
	}
	sides := []*side{{c: n.a, out: dataA}, {c: n.b, out: dataB}}
	buf := make([]byte, 32<<10)
	start := n.now
	for steps := 0; ; steps++ {
		if steps > 20_000_000 {
			t.Fatalf("no progress: a %v b %v", n.a.State(), n.b.State())
		}
		for _, s := range sides {
			st := s.c.State()
			if st == Established || st == CloseWait {
				for s.written < len(s.out) {
					w, err := s.c.Write(s.out[s.written:], n.now)
					if err != nil {
						t.Fatalf("write: %v", err)
					}
					if w == 0 {
						break
					}
					s.written += w
				}
				if s.written == len(s.out) && !s.closed {
					s.closed = true
					s.c.Shutdown(ShutdownWrite, n.now)
				}
			}
			for !s.eof {
				r, err := s.c.Read(buf, n.now)
				if err == io.EOF {
					s.eof = true
					break
				}
				if err != nil && err != ErrNotConnected {
					t.Fatalf("read: %v (state %v)", err, s.c.State())
				}
				if r == 0 {
					break
				}
				s.received += r
				s.got.Write(buf[:r])
			}
		}
		if sides[0].eof && sides[1].eof && done(n.a) && done(n.b) {
			break
		}
		if !n.step() {
			t.Fatalf("stalled: a %v b %v, got %d/%d and %d/%d", n.a.State(), n.b.State(),
				sides[1].received, sizeA, sides[0].received, sizeB)
		}
	}
	if sides[1].got.Sum() != sha256.Sum256(dataA) || sides[0].got.Sum() != sha256.Sum256(dataB) {
		t.Fatalf("data differs: a->b %d/%d bytes, b->a %d/%d", sides[1].received, sizeA, sides[0].received, sizeB)
	}
	if sa, sb := n.a.Stats(), n.b.Stats(); sa.BytesAcked != int64(sizeA) || sb.BytesReceived != int64(sizeA) ||
		sb.BytesAcked != int64(sizeB) || sa.BytesReceived != int64(sizeB) || sa.BytesSent < int64(sizeA) {
		t.Fatalf("byte counters: a %+v\nb %+v", sa, sb)
	}
	return n.now.Sub(start)
}

// done reports whether c finished gracefully: CLOSED without error or
// waiting in TIME-WAIT.
func done(c *Conn) bool {
	return (c.State() == Closed || c.State() == TimeWait) && c.Err() == nil
}

type sha256Writer struct {
	h   []byte
	buf bytes.Buffer
}

func (w *sha256Writer) Write(p []byte) { w.buf.Write(p) }
func (w *sha256Writer) Sum() [32]byte  { return sha256.Sum256(w.buf.Bytes()) }

func TestTransferClean(t *testing.T) {
	cfg := DefaultConfig()
	n := newPairNet(t, cfg, cfg, impairment{delay: 5 * time.Millisecond}, 1)
	d := transfer(t, n, 3<<20, 2<<20, 1)
	t.Logf("clean 3+2 MiB in %v virtual, %d segments", d, n.sent)
}

func TestTransferImpaired(t *testing.T) {
	cases := []struct {
		name string
		imp  impairment
		cfg  func(*Config)
	}{
		{"loss 2%", impairment{loss: 0.02, delay: 10 * time.Millisecond}, nil},
		{"loss 10%", impairment{loss: 0.10, delay: 2 * time.Millisecond}, nil},
		{"reorder 20%", impairment{reorder: 0.2, jitter: 8 * time.Millisecond, delay: 5 * time.Millisecond}, nil},
		{"duplicate 10%", impairment{dup: 0.1, delay: 5 * time.Millisecond}, nil},
		{"all at once", impairment{loss: 0.05, dup: 0.05, reorder: 0.1, jitter: 5 * time.Millisecond, delay: 3 * time.Millisecond}, nil},
		{"small buffers, no window scale", impairment{loss: 0.03, reorder: 0.1, jitter: 3 * time.Millisecond, delay: time.Millisecond},
			func(c *Config) {
				c.SendBufferSize, c.ReceiveBufferSize, c.ReassemblyLimit, c.WindowScale = 8000, 6000, 3000, false
			}},
		{"tiny reassembly limit", impairment{loss: 0.05, reorder: 0.3, jitter: 5 * time.Millisecond, delay: time.Millisecond},
			func(c *Config) { c.ReassemblyLimit = 1500 }},
		{"nodelay, no delayed ack, small mss", impairment{loss: 0.02, reorder: 0.1, jitter: time.Millisecond, delay: time.Millisecond},
			func(c *Config) { c.NoDelay, c.DelayedAck, c.MSS = true, 0, 536 }},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 3; seed++ {
				cfg := DefaultConfig()
				if tc.cfg != nil {
					tc.cfg(&cfg)
				}
				n := newPairNet(t, cfg, cfg, tc.imp, seed*100+uint64(i))
				d := transfer(t, n, 2<<20, 1<<20, seed)
				sa, sb := n.a.Stats(), n.b.Stats()
				t.Logf("seed %d: %v virtual, %d segments, retransmissions %d+%d, timeouts %d+%d, fast %d+%d",
					seed, d, n.sent, sa.Retransmissions, sb.Retransmissions, sa.Timeouts, sb.Timeouts, sa.FastRetransmits, sb.FastRetransmits)
			}
		})
	}
}

// BenchmarkBulkTransfer moves data one way between two Conns back to back
// (no delay, no loss) through the real wire code: encode, checksum, parse,
// verify. It reports the throughput of the TCP core on one CPU and checks
// that the steady state allocates nothing per segment.
func BenchmarkBulkTransfer(b *testing.B) {
	b.Run("plain", func(b *testing.B) { benchmarkBulk(b, false) })
	b.Run("observed", func(b *testing.B) { benchmarkBulk(b, true) })
}

func benchmarkBulk(b *testing.B, observed bool) {
	benchmarkBulkConfig(b, DefaultConfig(), observed)
}

// BenchmarkBulkTransferGSO is the same with 64 KB super-segments, as a
// stack with segmentation offload sends them (Config.GSOMaxSize).
func BenchmarkBulkTransferGSO(b *testing.B) {
	cfg := DefaultConfig()
	cfg.GSOMaxSize = 65000
	benchmarkBulkConfig(b, cfg, false)
}

func benchmarkBulkConfig(b *testing.B, cfg Config, observed bool) {
	n := newPairNet(b, cfg, cfg, impairment{}, 1)
	if observed {
		n.a.SetObserver(&transitionLog{})
		n.b.SetObserver(&transitionLog{})
	}
	n.b.Listen()
	n.a.Connect(n.now)
	for n.a.State() != Established || n.b.State() != Established {
		if !n.step() {
			b.Fatal("handshake stalled")
		}
	}
	chunk := make([]byte, 64<<10)
	sink := make([]byte, 64<<10)
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	segsBefore := n.sent
	for b.Loop() {
		written := 0
		for written < len(chunk) {
			w, err := n.a.Write(chunk[written:], n.now)
			if err != nil {
				b.Fatal(err)
			}
			written += w
			for {
				r, _ := n.b.Read(sink, n.now)
				if r == 0 {
					break
				}
			}
			if w == 0 && !n.step() {
				b.Fatal("stalled")
			}
		}
		for len(n.queue) > 0 {
			n.step()
			n.b.Read(sink, n.now)
		}
	}
	b.ReportMetric(float64(n.sent-segsBefore)/float64(b.N), "segments/op")
}

func TestTransferWithSegmentationOffload(t *testing.T) {
	cfg := DefaultConfig()
	cfg.GSOMaxSize = 65000
	n := newPairNet(t, cfg, DefaultConfig(), impairment{loss: 0.01, delay: 2 * time.Millisecond}, 7)
	d := transfer(t, n, 3<<20, 1<<20, 7)
	t.Logf("with GSO on one side: %v virtual, %d segments", d, n.sent)
}
