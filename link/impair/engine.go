package impair

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/tundra-net/tundra/clock"
	"github.com/tundra-net/tundra/link"
)

// engine applies one Direction's stages to a stream of packets and hands
// the survivors, in time order, to its sink. All its state is guarded by mu,
// which is also held while the sink runs, so that packets leave in exactly
// the order the stages decided, whichever goroutine (a writer's, the read
// pump's, the clock timer's) lets them go.
type engine struct {
	cfg  Direction
	clk  clock.Clock
	sink func([]link.Packet) (int, error)

	loss, corrupt, duplicate, reorder, jitter *rand.Rand

	mu       sync.Mutex
	closed   bool
	counters Counters
	bufSize  int      // capacity of a new buffer: the inner MaxPacketSize
	free     [][]byte // recycled packet buffers, most recent last
	inside   int      // packets in held and sched, bounded by cfg.Limit

	held     []heldPacket // stage 4, in the order held
	heldHead int
	passed   uint64 // packets that passed stage 4 without being held

	departures []time.Time // stage 5: when queued packets leave the link (ring)
	depHead    int
	depCount   int
	busyUntil  time.Time

	sched []scheduled // stage 6: a min-heap by (at, seq)
	seq   uint64

	timer   clock.Timer
	timerAt time.Time // when the timer will fire; zero if not pending

	out     []link.Packet // the batch for the sink
	outBufs [][]byte      // the buffers behind out, recycled after the sink
}

type packet struct {
	buf []byte
	off link.Offload
}

type heldPacket struct {
	packet
	deadline     time.Time // ReorderDelay after it was held
	releaseAfter uint64    // let go when passed reaches this
}

type scheduled struct {
	packet
	at  time.Time
	seq uint64 // ties keep arrival order
}

func newEngine(name string, cfg Direction, clk clock.Clock, bufSize int, sink func([]link.Packet) (int, error)) *engine {
	cfg.validate(name)
	if cfg.ReorderAfter == 0 {
		cfg.ReorderAfter = DefaultReorderAfter
	}
	if cfg.ReorderDelay == 0 {
		cfg.ReorderDelay = DefaultReorderDelay
	}
	if cfg.RateQueue == 0 {
		cfg.RateQueue = DefaultRateQueue
	}
	if cfg.Limit == 0 {
		cfg.Limit = DefaultLimit
	}
	e := &engine{
		cfg:       cfg,
		clk:       clk,
		sink:      sink,
		loss:      newRand(cfg.Seed, streamLoss),
		corrupt:   newRand(cfg.Seed, streamCorrupt),
		duplicate: newRand(cfg.Seed, streamDuplicate),
		reorder:   newRand(cfg.Seed, streamReorder),
		jitter:    newRand(cfg.Seed, streamJitter),
		bufSize:   bufSize,
	}
	if cfg.Rate > 0 {
		e.departures = make([]time.Time, cfg.RateQueue)
	}
	return e
}

// submit runs pkts through the stages and hands on what is due now. It
// copies what it keeps; the caller may reuse pkts at once.
func (e *engine) submit(pkts []link.Packet) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return 0, link.ErrClosed
	}
	now := e.clk.Now()
	e.releaseDue(now)
	for i := range pkts {
		e.admit(&pkts[i], now)
	}
	err := e.flush()
	e.arm(now)
	return len(pkts), err
}

// admit runs stages 1 to 3 on one packet and passes its copies on.
func (e *engine) admit(p *link.Packet, now time.Time) {
	e.counters.Packets++
	cfg := &e.cfg
	if cfg.Loss > 0 && e.loss.Float64() < cfg.Loss {
		e.counters.Lost++
		return
	}
	first := packet{buf: e.copyOf(p.Data), off: p.Offload}
	if cfg.Corrupt > 0 && e.corrupt.Float64() < cfg.Corrupt && len(first.buf) > 0 {
		bit := e.corrupt.IntN(len(first.buf) * 8)
		first.buf[bit/8] ^= 1 << (bit % 8)
		e.counters.Corrupted++
	}
	dup := cfg.Duplicate > 0 && e.duplicate.Float64() < cfg.Duplicate
	var second packet
	if dup {
		e.counters.Duplicated++
		second = packet{buf: e.copyOf(first.buf), off: first.off}
	}
	e.reorderStage(first, now)
	if dup {
		e.reorderStage(second, now)
	}
}

// reorderStage is stage 4: hold the packet back, or pass it and let go of
// the held packets it was the last to wait for.
func (e *engine) reorderStage(p packet, now time.Time) {
	if e.cfg.Reorder > 0 && e.reorder.Float64() < e.cfg.Reorder {
		if !e.makeRoom(p) {
			return
		}
		e.counters.Reordered++
		e.held = append(e.held, heldPacket{
			packet:       p,
			deadline:     now.Add(e.cfg.ReorderDelay),
			releaseAfter: e.passed + uint64(e.cfg.ReorderAfter),
		})
		return
	}
	e.rateStage(p, now)
	e.passed++
	for e.heldHead < len(e.held) && e.held[e.heldHead].releaseAfter <= e.passed {
		e.rateStage(e.popHeld(), now)
	}
}

func (e *engine) popHeld() packet {
	h := e.held[e.heldHead]
	e.held[e.heldHead] = heldPacket{}
	e.heldHead++
	if e.heldHead == len(e.held) {
		e.held, e.heldHead = e.held[:0], 0
	}
	e.inside--
	return h.packet
}

// rateStage is stage 5: serialise the packet at Rate, or drop it if the
// link's queue is full.
func (e *engine) rateStage(p packet, now time.Time) {
	leave := now
	if e.cfg.Rate > 0 {
		for e.depCount > 0 && !e.departures[e.depHead].After(now) {
			e.depHead = (e.depHead + 1) % len(e.departures)
			e.depCount--
		}
		if e.depCount == len(e.departures) {
			e.counters.RateDropped++
			e.recycle(p.buf)
			return
		}
		start := now
		if e.busyUntil.After(start) {
			start = e.busyUntil
		}
		bits := int64(len(p.buf)) * 8
		e.busyUntil = start.Add(time.Duration(bits * int64(time.Second) / e.cfg.Rate))
		leave = e.busyUntil
		e.departures[(e.depHead+e.depCount)%len(e.departures)] = leave
		e.depCount++
	}
	e.delayStage(p, leave, now)
}

// delayStage is stage 6: add Delay and Jitter to the time the packet left
// stage 5, then hand it on now or schedule it.
func (e *engine) delayStage(p packet, leave, now time.Time) {
	at := leave.Add(e.cfg.Delay)
	if j := e.cfg.Jitter; j > 0 {
		at = at.Add(time.Duration(e.jitter.Int64N(2*int64(j)+1)) - j)
		if at.Before(leave) {
			at = leave
		}
	}
	if !at.After(now) {
		e.emit(p)
		return
	}
	if !e.makeRoom(p) {
		return
	}
	e.counters.Delayed++
	e.seq++
	e.pushSched(scheduled{packet: p, at: at, seq: e.seq})
}

// makeRoom reports whether one more packet may be held, dropping p (and
// counting it) if not.
func (e *engine) makeRoom(p packet) bool {
	if e.inside >= e.cfg.Limit {
		e.counters.Overflow++
		e.recycle(p.buf)
		return false
	}
	e.inside++
	return true
}

// releaseDue lets go of everything whose time is at or before now, in time
// order: held packets whose ReorderDelay ran out continue into stage 5 as of
// their deadline, and scheduled packets are handed on.
func (e *engine) releaseDue(now time.Time) {
	for {
		heldDue := e.heldHead < len(e.held) && !e.held[e.heldHead].deadline.After(now)
		schedDue := len(e.sched) > 0 && !e.sched[0].at.After(now)
		switch {
		case heldDue && (!schedDue || e.held[e.heldHead].deadline.Before(e.sched[0].at)):
			at := e.held[e.heldHead].deadline
			e.rateStage(e.popHeld(), at)
		case schedDue:
			s := e.popSched()
			e.inside--
			e.emit(s.packet)
		default:
			return
		}
	}
}

// emit adds p to the batch for the sink.
func (e *engine) emit(p packet) {
	e.out = append(e.out, link.Packet{Data: p.buf, Offload: p.off})
	e.outBufs = append(e.outBufs, p.buf)
}

// flush hands the batch to the sink and recycles its buffers.
func (e *engine) flush() error {
	if len(e.out) == 0 {
		return nil
	}
	n, err := e.sink(e.out)
	e.counters.Delivered += uint64(n)
	for i, b := range e.outBufs {
		e.recycle(b)
		e.outBufs[i] = nil
		e.out[i] = link.Packet{}
	}
	e.out, e.outBufs = e.out[:0], e.outBufs[:0]
	return err
}

// arm sets the timer for the next deadline, if there is one and the timer
// is not already set for it.
func (e *engine) arm(now time.Time) {
	var next time.Time
	if e.heldHead < len(e.held) {
		next = e.held[e.heldHead].deadline
	}
	if len(e.sched) > 0 && (next.IsZero() || e.sched[0].at.Before(next)) {
		next = e.sched[0].at
	}
	if next.IsZero() || next.Equal(e.timerAt) {
		return
	}
	e.timerAt = next
	if e.timer == nil {
		e.timer = e.clk.AfterFunc(next.Sub(now), e.onTimer)
	} else {
		e.timer.Reset(next.Sub(now))
	}
}

func (e *engine) onTimer() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	e.timerAt = time.Time{}
	now := e.clk.Now()
	e.releaseDue(now)
	e.flush() // a failing inner endpoint loses these, as a dead wire would
	e.arm(now)
}

// copyOf returns a copy of data in a recycled buffer.
func (e *engine) copyOf(data []byte) []byte {
	var buf []byte
	if last := len(e.free) - 1; last >= 0 {
		buf, e.free = e.free[last], e.free[:last]
	}
	if cap(buf) < len(data) {
		buf = make([]byte, 0, max(len(data), e.bufSize))
	}
	return append(buf[:0], data...)
}

func (e *engine) recycle(buf []byte) {
	e.free = append(e.free, buf)
}

func (e *engine) stats() Counters {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.counters
}

// close drops everything held and stops the timer.
func (e *engine) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	if e.timer != nil {
		e.timer.Stop()
	}
	e.held, e.sched, e.free = nil, nil, nil
}

// The schedule is a binary min-heap ordered by (at, seq), kept by hand
// rather than with container/heap, which would box every entry in an
// interface and allocate.

func (e *engine) pushSched(s scheduled) {
	e.sched = append(e.sched, s)
	i := len(e.sched) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if !e.schedLess(i, parent) {
			break
		}
		e.sched[i], e.sched[parent] = e.sched[parent], e.sched[i]
		i = parent
	}
}

func (e *engine) popSched() scheduled {
	top := e.sched[0]
	last := len(e.sched) - 1
	e.sched[0] = e.sched[last]
	e.sched[last] = scheduled{}
	e.sched = e.sched[:last]
	i := 0
	for {
		smallest, l, r := i, 2*i+1, 2*i+2
		if l < last && e.schedLess(l, smallest) {
			smallest = l
		}
		if r < last && e.schedLess(r, smallest) {
			smallest = r
		}
		if smallest == i {
			return top
		}
		e.sched[i], e.sched[smallest] = e.sched[smallest], e.sched[i]
		i = smallest
	}
}

func (e *engine) schedLess(i, j int) bool {
	a, b := &e.sched[i], &e.sched[j]
	if a.at.Equal(b.at) {
		return a.seq < b.seq
	}
	return a.at.Before(b.at)
}
