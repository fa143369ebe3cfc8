package impair

import (
	"bytes"
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tundra-net/tundra/clock"
	"github.com/tundra-net/tundra/internal/linktest"
	"github.com/tundra-net/tundra/link"
	"github.com/tundra-net/tundra/link/pipe"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// numbered returns a packet of size bytes that carries n in its first two
// bytes.
func numbered(n, size int) []byte {
	p := make([]byte, size)
	p[0], p[1] = byte(n>>8), byte(n)
	for i := 2; i < size; i++ {
		p[i] = byte(i)
	}
	return p
}

func number(p []byte) int { return int(p[0])<<8 | int(p[1]) }

// arrival is a packet seen on the far side, and when.
type arrival struct {
	at   time.Duration // since epoch
	data []byte
}

// rig is an impairer on one end of a pipe, driven by a virtual clock, with
// the far end drained after every step.
type rig struct {
	t    *testing.T
	clk  *clock.Virtual
	imp  *Endpoint
	far  *pipe.Endpoint
	got  []arrival
	recv []link.Packet
}

func newRig(t *testing.T, cfg Config) *rig {
	near, far := pipe.New(pipe.Options{QueueLen: 100000})
	clk := clock.NewVirtual(epoch)
	r := &rig{t: t, clk: clk, imp: New(near, cfg, clk), far: far, recv: make([]link.Packet, 64)}
	for i := range r.recv {
		r.recv[i].Data = make([]byte, 0, 1500)
	}
	t.Cleanup(func() { r.imp.Close() })
	return r
}

// write sends packets numbered from..to-1 of the given size through the
// impairer now, one WritePackets call each.
func (r *rig) write(from, to, size int) {
	for n := from; n < to; n++ {
		if _, err := r.imp.WritePackets([]link.Packet{{Data: numbered(n, size)}}); err != nil {
			r.t.Fatal(err)
		}
		r.drain()
	}
}

// drain records what has reached the far end by now.
func (r *rig) drain() {
	for {
		n, err := r.far.PollPackets(r.recv)
		if err != nil {
			r.t.Fatal(err)
		}
		if n == 0 {
			return
		}
		for _, p := range r.recv[:n] {
			r.got = append(r.got, arrival{r.clk.Now().Sub(epoch), bytes.Clone(p.Data)})
		}
	}
}

// advance moves the clock by d in steps of at most step, draining after
// each.
func (r *rig) advance(d, step time.Duration) {
	end := r.clk.Now().Add(d)
	for r.clk.Now().Before(end) {
		next := r.clk.Now().Add(step)
		if next.After(end) {
			next = end
		}
		r.clk.AdvanceTo(next)
		r.drain()
	}
}

// settle runs every pending timer.
func (r *rig) settle() {
	for r.clk.AdvanceToNext() {
		r.drain()
	}
	r.drain()
}

func (r *rig) numbers() []int {
	ns := make([]int, len(r.got))
	for i, a := range r.got {
		ns[i] = number(a.data)
	}
	return ns
}

func seq(from, to int) []int {
	s := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

// recorder is an inner endpoint that remembers the slices it was given.
type recorder struct {
	*pipe.Endpoint
	written [][]byte
}

func (r *recorder) WritePackets(pkts []link.Packet) (int, error) {
	for _, p := range pkts {
		r.written = append(r.written, p.Data)
	}
	return len(pkts), nil
}

func TestZeroConfigIsPassThrough(t *testing.T) {
	a, b := pipe.New(pipe.Options{})
	rec := &recorder{Endpoint: a}
	imp := New(rec, Config{Write: Direction{Seed: 42}, Read: Direction{Seed: 7, Limit: 5}}, nil)
	data := numbered(1, 100)
	if n, err := imp.WritePackets([]link.Packet{{Data: data}}); n != 1 || err != nil {
		t.Fatal(n, err)
	}
	if len(rec.written) != 1 || &rec.written[0][0] != &data[0] {
		t.Fatal("a zero Write direction copied the packet instead of passing it through")
	}
	// Reads go straight to the inner endpoint, on the caller's goroutine.
	b.WritePackets([]link.Packet{{Data: data}})
	in := []link.Packet{{Data: make([]byte, 0, 1500)}}
	if n, err := imp.ReadPackets(in); n != 1 || err != nil || !bytes.Equal(in[0].Data, data) {
		t.Fatalf("ReadPackets = %d, %v", n, err)
	}
	if imp.read != nil || imp.write != nil {
		t.Fatal("zero directions started an engine")
	}
	if imp.MTU() != 1500 || imp.MaxPacketSize() != 1500 || imp.Offloads() != (link.Offloads{}) {
		t.Fatal("endpoint properties are not the inner endpoint's")
	}
}

// trace runs a fixed scenario through an impairer with every knob on and
// returns what arrived, when, as text, and the counters.
func trace(t *testing.T, seed uint64) (string, Counters) {
	r := newRig(t, Config{Write: Direction{
		Seed: seed, Loss: 0.1, Corrupt: 0.1, Duplicate: 0.1, Reorder: 0.2, ReorderAfter: 3,
		ReorderDelay: 7 * time.Millisecond, Rate: 10_000_000, RateQueue: 20,
		Delay: 5 * time.Millisecond, Jitter: 2 * time.Millisecond,
	}})
	for burst := range 20 {
		r.write(burst*25, burst*25+25, 100+burst*50)
		r.advance(3*time.Millisecond, 250*time.Microsecond)
	}
	r.settle()
	var b bytes.Buffer
	for _, a := range r.got {
		fmt.Fprintf(&b, "%v %x\n", a.at, a.data)
	}
	return b.String(), r.imp.Stats().Write
}

func TestSameSeedSameOutput(t *testing.T) {
	first, c1 := trace(t, 1)
	second, c2 := trace(t, 1)
	if first != second || c1 != c2 {
		t.Fatal("two runs with the same seed, input and clock steps differ")
	}
	if other, _ := trace(t, 2); other == first {
		t.Fatal("a different seed gave the same output")
	}
	// Every knob acted in this scenario, and every packet is accounted for.
	if c1.Lost == 0 || c1.Corrupted == 0 || c1.Duplicated == 0 || c1.Reordered == 0 || c1.RateDropped == 0 || c1.Delayed == 0 {
		t.Fatalf("some knob never acted: %+v", c1)
	}
	if c1.Packets+c1.Duplicated != c1.Lost+c1.RateDropped+c1.Overflow+c1.Delivered {
		t.Fatalf("counters do not add up: %+v", c1)
	}
}

func TestLoss(t *testing.T) {
	r := newRig(t, Config{Write: Direction{Seed: 3, Loss: 1}})
	r.write(0, 100, 40)
	if len(r.got) != 0 || r.imp.Stats().Write.Lost != 100 {
		t.Fatalf("Loss 1 delivered %d packets; stats %+v", len(r.got), r.imp.Stats().Write)
	}
	r = newRig(t, Config{Write: Direction{Seed: 3, Loss: 0.25}})
	r.write(0, 4000, 40)
	st := r.imp.Stats().Write
	// 1000 expected, standard deviation about 27: allow six of them.
	if st.Lost < 840 || st.Lost > 1160 || st.Lost+st.Delivered != 4000 || len(r.got) != int(st.Delivered) {
		t.Fatalf("Loss 0.25 over 4000 packets: %+v, %d arrived", st, len(r.got))
	}
	// Without delay the survivors arrive at once and in order.
	if !slices.IsSorted(r.numbers()) {
		t.Fatal("loss reordered packets")
	}
}

func TestCorruptFlipsOneBit(t *testing.T) {
	r := newRig(t, Config{Write: Direction{Seed: 5, Corrupt: 1}})
	sent := numbered(9, 300)
	keep := bytes.Clone(sent)
	seen := map[int]bool{}
	for range 200 {
		r.imp.WritePackets([]link.Packet{{Data: sent}})
	}
	r.drain()
	if !bytes.Equal(sent, keep) {
		t.Fatal("corruption modified the caller's buffer")
	}
	if len(r.got) != 200 {
		t.Fatalf("%d packets arrived, want 200", len(r.got))
	}
	for _, a := range r.got {
		flipped := 0
		for i := range a.data {
			if d := a.data[i] ^ sent[i]; d != 0 {
				flipped += bits.OnesCount8(d)
				seen[i] = true
			}
		}
		if flipped != 1 {
			t.Fatalf("%d bits differ, want exactly 1", flipped)
		}
	}
	if len(seen) < 50 {
		t.Fatalf("flips landed on only %d distinct bytes of 300", len(seen))
	}
}

func TestDuplicate(t *testing.T) {
	r := newRig(t, Config{Write: Direction{Seed: 1, Duplicate: 1}})
	r.write(0, 3, 60)
	if got, want := r.numbers(), []int{0, 0, 1, 1, 2, 2}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if st := r.imp.Stats().Write; st.Duplicated != 3 || st.Delivered != 6 {
		t.Fatalf("stats %+v", st)
	}
}

// TestReorderFollowsTheRule predicts, from the same PCG stream the
// impairer uses, which packets are held, and checks that each held packet
// comes out right after the ReorderAfter-th packet that passed after it.
func TestReorderFollowsTheRule(t *testing.T) {
	const seed, prob, after, count = 11, 0.3, 2, 300
	r := newRig(t, Config{Write: Direction{Seed: seed, Reorder: prob, ReorderAfter: after, ReorderDelay: time.Hour}})
	r.write(0, count, 40)
	inFlight := len(r.got)
	r.settle() // the last held packets go when their hour is up

	// The model.
	rng := newRand(seed, streamReorder)
	type held struct{ n, releaseAfter int }
	var want []int
	var queue []held
	passed := 0
	for n := range count {
		if rng.Float64() < prob {
			queue = append(queue, held{n, passed + after})
			continue
		}
		want = append(want, n)
		passed++
		for len(queue) > 0 && queue[0].releaseAfter <= passed {
			want = append(want, queue[0].n)
			queue = queue[1:]
		}
	}
	if inFlight != len(want) {
		t.Fatalf("%d packets arrived before the deadline, the rule says %d", inFlight, len(want))
	}
	for _, h := range queue {
		want = append(want, h.n)
	}
	if got := r.numbers(); !slices.Equal(got, want) {
		t.Fatalf("order\n got %v\nwant %v", got, want)
	}
	if st := r.imp.Stats().Write; st.Reordered < 60 || st.Reordered > 120 {
		t.Fatalf("Reordered = %d of 300 at p=0.3", st.Reordered)
	}
}

func TestReorderDelayLetsGo(t *testing.T) {
	r := newRig(t, Config{Write: Direction{Seed: 1, Reorder: 1, ReorderAfter: 1000, ReorderDelay: 5 * time.Millisecond}})
	r.write(0, 3, 40)
	r.advance(5*time.Millisecond-time.Nanosecond, time.Millisecond)
	if len(r.got) != 0 {
		t.Fatalf("%d held packets left before ReorderDelay", len(r.got))
	}
	r.advance(time.Nanosecond, time.Nanosecond)
	if got := r.numbers(); !slices.Equal(got, []int{0, 1, 2}) || r.got[0].at != 5*time.Millisecond {
		t.Fatalf("got %v at %v", got, r.got)
	}
}

func TestDelayKeepsOrder(t *testing.T) {
	r := newRig(t, Config{Write: Direction{Delay: 30 * time.Millisecond}})
	for i := range 10 {
		r.write(i, i+1, 100)
		r.advance(time.Millisecond, time.Millisecond)
	}
	if len(r.got) != 0 {
		t.Fatal("packets arrived before their delay")
	}
	r.settle()
	if !slices.Equal(r.numbers(), seq(0, 10)) {
		t.Fatalf("order %v", r.numbers())
	}
	for i, a := range r.got {
		if want := time.Duration(30+i) * time.Millisecond; a.at != want {
			t.Fatalf("packet %d arrived at %v, want %v", i, a.at, want)
		}
	}
}

func TestJitterStaysInBounds(t *testing.T) {
	r := newRig(t, Config{Write: Direction{Seed: 8, Delay: 50 * time.Millisecond, Jitter: 20 * time.Millisecond}})
	r.write(0, 500, 60)
	r.settle()
	if len(r.got) != 500 {
		t.Fatalf("%d of 500 arrived", len(r.got))
	}
	lo, hi := r.got[0].at, r.got[len(r.got)-1].at
	if lo < 30*time.Millisecond || hi > 70*time.Millisecond {
		t.Fatalf("arrivals from %v to %v, want within 50ms±20ms", lo, hi)
	}
	if hi-lo < 30*time.Millisecond || slices.IsSorted(r.numbers()) {
		t.Fatalf("jitter did not spread packets: %v..%v, sorted %v", lo, hi, slices.IsSorted(r.numbers()))
	}
}

func TestRateSerialisesAndDrops(t *testing.T) {
	// 1 Mbit/s: a 1250-byte packet takes 10ms on the wire.
	r := newRig(t, Config{Write: Direction{Rate: 1_000_000, RateQueue: 5}})
	r.write(0, 10, 1250)
	r.settle()
	if !slices.Equal(r.numbers(), seq(0, 5)) {
		t.Fatalf("delivered %v, want the 5 that fit the queue", r.numbers())
	}
	for i, a := range r.got {
		if want := time.Duration(10*(i+1)) * time.Millisecond; a.at != want {
			t.Fatalf("packet %d left at %v, want %v", i, a.at, want)
		}
	}
	if st := r.imp.Stats().Write; st.RateDropped != 5 {
		t.Fatalf("RateDropped = %d, want 5", st.RateDropped)
	}
	// An idle link starts the next packet at once.
	r.got = nil
	r.advance(time.Second, time.Second)
	start := r.clk.Now().Sub(epoch)
	r.write(10, 11, 125) // 1ms
	r.settle()
	if len(r.got) != 1 || r.got[0].at != start+time.Millisecond {
		t.Fatalf("after idle: %+v", r.got)
	}
}

func TestLimitOverflow(t *testing.T) {
	r := newRig(t, Config{Write: Direction{Delay: time.Second, Limit: 3}})
	r.write(0, 5, 40)
	r.settle()
	if st := r.imp.Stats().Write; len(r.got) != 3 || st.Overflow != 2 {
		t.Fatalf("%d arrived, stats %+v", len(r.got), st)
	}
}

func TestReadSideDelay(t *testing.T) {
	near, far := pipe.New(pipe.Options{})
	clk := clock.NewVirtual(epoch)
	imp := New(near, Config{Read: Direction{Delay: 10 * time.Millisecond}}, clk)
	defer imp.Close()
	far.WritePackets([]link.Packet{{Data: numbered(1, 64)}, {Data: numbered(2, 64)}})
	// Let the read goroutine take the packets in before time moves.
	waitFor(t, func() bool { return imp.Stats().Read.Packets == 2 })

	type result struct {
		n   int
		err error
		at  time.Time
	}
	done := make(chan result, 1)
	in := []link.Packet{{Data: make([]byte, 0, 1500)}, {Data: make([]byte, 0, 1500)}}
	go func() {
		n, err := imp.ReadPackets(in)
		done <- result{n, err, clk.Now()}
	}()
	clk.Advance(9 * time.Millisecond)
	select {
	case <-done:
		t.Fatal("a delayed packet was read early")
	case <-time.After(20 * time.Millisecond):
	}
	clk.Advance(time.Millisecond)
	select {
	case r := <-done:
		if r.err != nil || r.n != 2 || number(in[0].Data) != 1 || number(in[1].Data) != 2 {
			t.Fatalf("ReadPackets = %d, %v", r.n, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("delayed packets never arrived")
	}
	if st := imp.Stats().Read; st.Delivered != 2 || st.Delayed != 2 {
		t.Fatalf("read stats %+v", st)
	}
}

func TestCloseUnblocksImpairedRead(t *testing.T) {
	near, _ := pipe.New(pipe.Options{})
	imp := New(near, Config{Read: Direction{Loss: 0.5}}, nil)
	linktest.CloseUnblocks(t, imp, "ReadPackets", func() error {
		_, err := imp.ReadPackets([]link.Packet{{Data: make([]byte, 0, 1500)}})
		return err
	})
	if _, err := imp.WritePackets([]link.Packet{{Data: make([]byte, 20)}}); !errors.Is(err, link.ErrClosed) {
		t.Fatalf("WritePackets after Close = %v", err)
	}
	if err := imp.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

func TestCloseWithImpairedWrites(t *testing.T) {
	near, far := pipe.New(pipe.Options{})
	clk := clock.NewVirtual(epoch)
	imp := New(near, Config{Write: Direction{Delay: time.Second}}, clk)
	imp.WritePackets([]link.Packet{{Data: make([]byte, 20)}})
	imp.Close()
	clk.Advance(2 * time.Second)
	if far.Pending() != 0 {
		t.Fatal("a packet held at Close was delivered afterwards")
	}
	if _, err := imp.WritePackets([]link.Packet{{Data: make([]byte, 20)}}); !errors.Is(err, link.ErrClosed) {
		t.Fatalf("WritePackets after Close = %v", err)
	}
}

func TestRealClockDelivers(t *testing.T) {
	near, far := pipe.New(pipe.Options{})
	imp := New(near, Config{Write: Direction{Delay: 2 * time.Millisecond, Rate: 100_000_000, RateQueue: 200}}, clock.Real{})
	defer imp.Close()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				imp.WritePackets([]link.Packet{{Data: numbered(w*1000+i, 200)}})
			}
		})
	}
	wg.Wait()
	in := make([]link.Packet, 64)
	for i := range in {
		in[i].Data = make([]byte, 0, 1500)
	}
	last := map[int]int{0: -1, 1: -1, 2: -1, 3: -1}
	deadline := time.Now().Add(5 * time.Second)
	for got := 0; got < 200; {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of 200 packets arrived", got)
		}
		n, _ := far.PollPackets(in)
		for _, p := range in[:n] {
			w, i := number(p.Data)/1000, number(p.Data)%1000
			if i <= last[w] {
				t.Fatalf("writer %d: %d after %d", w, i, last[w])
			}
			last[w] = i
		}
		got += n
		if n == 0 {
			time.Sleep(time.Millisecond)
		}
	}
}

func TestInvalidConfigPanics(t *testing.T) {
	near, _ := pipe.New(pipe.Options{})
	for _, d := range []Direction{{Loss: 1.5}, {Reorder: -0.1}, {Delay: -time.Second}, {Rate: -1, Loss: 0.1}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New accepted %+v", d)
				}
			}()
			New(near, Config{Write: d}, nil)
		}()
	}
}

func TestNoAllocationsInSteadyState(t *testing.T) {
	r := newRig(t, Config{Write: Direction{
		Seed: 4, Loss: 0.05, Corrupt: 0.05, Duplicate: 0.05, Reorder: 0.1,
		Rate: 100_000_000, Delay: time.Millisecond, Jitter: 100 * time.Microsecond,
	}})
	out := make([]link.Packet, 16)
	for i := range out {
		out[i].Data = numbered(i, 1000)
	}
	round := func() {
		r.imp.WritePackets(out)
		r.clk.Advance(2 * time.Millisecond)
		r.far.PollPackets(r.recv)
	}
	for range 50 {
		round()
	}
	if allocs := testing.AllocsPerRun(200, round); allocs != 0 {
		t.Fatalf("%v allocations per round of 16 packets, want 0", allocs)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

// BenchmarkImpair measures packets per second through an impairer with
// loss, corruption, duplication, reordering and a delay, on a virtual clock.
func BenchmarkImpair(b *testing.B) {
	near, far := pipe.New(pipe.Options{})
	clk := clock.NewVirtual(epoch)
	imp := New(near, Config{Write: Direction{
		Seed: 1, Loss: 0.01, Corrupt: 0.01, Duplicate: 0.01, Reorder: 0.01, Delay: time.Millisecond,
	}}, clk)
	out := make([]link.Packet, 64)
	for i := range out {
		out[i].Data = numbered(i, 1500)
	}
	in := make([]link.Packet, 128)
	for i := range in {
		in[i].Data = make([]byte, 0, 1500)
	}
	b.ReportAllocs()
	for b.Loop() {
		imp.WritePackets(out)
		clk.Advance(time.Millisecond)
		for far.Pending() > 0 {
			far.PollPackets(in)
		}
	}
	b.ReportMetric(float64(len(out)*b.N)/b.Elapsed().Seconds(), "pkts/s")
}

// The model test above depends on the stream constants; make sure a change
// to them is a deliberate one.
func TestStreamsAreDistinct(t *testing.T) {
	seen := map[float64]bool{}
	for _, s := range []uint64{streamLoss, streamCorrupt, streamDuplicate, streamReorder, streamJitter} {
		v := rand.New(rand.NewPCG(1, s)).Float64()
		if seen[v] {
			t.Fatal("two knobs share a random stream")
		}
		seen[v] = true
	}
}

// observer is an inner endpoint that records drop reports.
type observer struct {
	*pipe.Endpoint
	reasons []string
}

func (o *observer) PacketDropped(data []byte, reason string) {
	o.reasons = append(o.reasons, reason)
}

func TestDropReportsPassThroughOnlyWhenReadsDo(t *testing.T) {
	a, _ := pipe.New(pipe.Options{})
	obs := &observer{Endpoint: a}
	New(obs, Config{Write: Direction{Loss: 0.5}}, nil).PacketDropped(nil, "bad checksum")
	imp := New(obs, Config{Read: Direction{Loss: 0.5}}, nil)
	imp.PacketDropped(nil, "not ours") // the data would be a copy: not forwarded
	imp.Close()
	if !slices.Equal(obs.reasons, []string{"bad checksum"}) {
		t.Fatalf("inner heard %q", obs.reasons)
	}
}

// The impairer is a link.Poller: over its own read queue when the Read
// direction is impaired (a delayed packet is polled once its time has
// come), and as the inner endpoint is otherwise.
func TestPoller(t *testing.T) {
	near, far := pipe.New(pipe.Options{})
	imp := New(near, Config{Read: Direction{Delay: 2 * time.Millisecond}}, nil)
	got := linktest.Poller(t, imp, func() {
		far.WritePackets([]link.Packet{{Data: []byte("delayed")}})
	})
	if string(got) != "delayed" {
		t.Fatalf("polled %q", got)
	}

	near, far = pipe.New(pipe.Options{})
	imp = New(near, Config{Write: Direction{Loss: 0.5}}, nil)
	got = linktest.Poller(t, imp, func() {
		far.WritePackets([]link.Packet{{Data: []byte("direct")}})
	})
	if string(got) != "direct" {
		t.Fatalf("polled %q", got)
	}

	// Around an endpoint that cannot poll, and with the Read direction
	// unimpaired, it cannot either.
	near, _ = pipe.New(pipe.Options{})
	imp = New(struct{ link.Endpoint }{near}, Config{}, nil)
	if imp.CanPoll() {
		t.Fatal("CanPoll around an endpoint without PollPackets")
	}
	if _, err := imp.PollPackets(make([]link.Packet, 1)); !errors.Is(err, link.ErrNotPollable) {
		t.Fatalf("PollPackets = %v, want link.ErrNotPollable", err)
	}
	if err := imp.WaitPackets(); !errors.Is(err, link.ErrNotPollable) {
		t.Fatalf("WaitPackets = %v, want link.ErrNotPollable", err)
	}
}
