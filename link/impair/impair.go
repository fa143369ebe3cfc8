// Package impair makes a link misbehave on purpose, reproducibly.
//
// Real networks lose, duplicate, reorder, delay and corrupt packets, and
// squeeze them through links slower than the sender. A transport protocol
// is only as good as its behaviour under those faults, and a test of that
// behaviour is only useful if a failure can be replayed. New wraps any
// link.Endpoint and applies such faults to the packets written through it
// (Config.Write) and, separately, to the packets read from it
// (Config.Read), drawing every random decision from seeded PCG generators
// (math/rand/v2) and taking every time from a clock.Clock. With the same
// seeds, the same packets and the same clock steps (a clock.Virtual), the
// output is identical, packet for packet and nanosecond for nanosecond.
// With a zero Direction, that direction is a transparent pass-through: the
// packets are handed on unchanged, uncopied and undelayed.
//
// # What happens to a packet
//
// Each packet goes through these stages in this order; every stage whose
// knob is zero is skipped and draws no random number.
//
//  1. Loss: with probability Loss the packet is discarded (Lost).
//  2. Corruption: with probability Corrupt one bit, chosen uniformly among
//     all the packet's bits, headers included, is flipped (Corrupted). The
//     caller's buffer is never modified; the impairer works on a copy.
//  3. Duplication: with probability Duplicate a second, identical copy
//     follows the packet (Duplicated). From here on the two copies are
//     independent packets.
//  4. Reordering: with probability Reorder the packet is held back
//     (Reordered) and let go, in the order it was held, once ReorderAfter
//     later packets have passed this stage, or once ReorderDelay has passed,
//     whichever comes first.
//  5. Rate limit: with Rate bits per second set, packets are serialised one
//     after another like on a link of that speed: a packet of n bytes
//     occupies the link for n*8/Rate seconds, starting when it arrives or
//     when the previous packet is done, whichever is later, and leaves when
//     its serialisation ends. At most RateQueue packets wait for or occupy
//     the link; a packet arriving to a full queue is dropped (RateDropped),
//     the tail drop of a router's queue.
//  6. Delay: the packet is handed on Delay after it left the previous stage,
//     plus a uniformly random offset in [-Jitter, +Jitter] (never less than
//     zero). Without jitter the order of packets is kept; with jitter, a
//     packet may overtake another whose offset was larger, as on a real
//     path.
//
// Packets held in stages 4 to 6 are copies the impairer owns; at most Limit
// of them exist at once per direction, and a packet that would exceed it is
// dropped (Overflow). Packets whose time has come are handed on in time
// order by a single timer on the clock, so written packets reach the inner
// endpoint from the timer's goroutine (clock.Real) or from inside
// clock.Virtual's Advance.
//
// On the read side, a goroutine reads the inner endpoint whenever the Read
// direction is not zero, and what survives is queued (at most Limit
// packets, else Overflow) for ReadPackets. To replay a read-side run
// exactly, let that goroutine take in the packets (Stats().Read.Packets
// counts them) before advancing a virtual clock.
package impair

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/tundra-net/tundra/clock"
	"github.com/tundra-net/tundra/link"
	"github.com/tundra-net/tundra/link/pipe"
)

// Defaults for Direction fields left zero.
const (
	DefaultReorderAfter = 1
	DefaultReorderDelay = 10 * time.Millisecond
	DefaultRateQueue    = 100
	DefaultLimit        = 10000
)

// Direction configures the impairment of packets travelling one way. The
// package comment describes each stage exactly.
type Direction struct {
	// Seed seeds the generators. Each knob has its own PCG stream drawn
	// from this seed, so turning one knob on does not change which packets
	// another knob picks.
	Seed uint64
	// Loss is the probability, 0 to 1, that a packet is discarded.
	Loss float64
	// Corrupt is the probability that one random bit of a packet is
	// flipped.
	Corrupt float64
	// Duplicate is the probability that a packet is sent twice.
	Duplicate float64
	// Reorder is the probability that a packet is held back, to follow
	// ReorderAfter later packets (default 1) or to go after ReorderDelay
	// (default 10ms), whichever comes first.
	Reorder      float64
	ReorderAfter int
	ReorderDelay time.Duration
	// Rate, in bits per second, limits the link's speed; zero means
	// unlimited. RateQueue (default 100) packets may wait for the link.
	Rate      int64
	RateQueue int
	// Delay is added to every packet's journey, plus or minus a uniform
	// random Jitter.
	Delay  time.Duration
	Jitter time.Duration
	// Limit bounds the packets held in this direction at once (default
	// 10000); past it packets are dropped and counted as Overflow.
	Limit int
}

// Config holds the two directions: Write for packets written through the
// impairer to the inner endpoint, Read for packets read from the inner
// endpoint through the impairer.
type Config struct {
	Write Direction
	Read  Direction
}

// Counters count what happened to the packets of one direction.
type Counters struct {
	Packets     uint64 // packets that entered the impairer
	Lost        uint64 // discarded by Loss
	Corrupted   uint64 // had a bit flipped
	Duplicated  uint64 // were sent twice (each counts once here)
	Reordered   uint64 // were held back by Reorder
	RateDropped uint64 // found the rate limiter's queue full
	Overflow    uint64 // exceeded Limit
	Delayed     uint64 // were handed on later than they arrived
	Delivered   uint64 // were handed on: written to the inner endpoint, or queued for ReadPackets
}

// Stats holds the counters of both directions.
type Stats struct {
	Write Counters
	Read  Counters
}

// Endpoint is an impairing wrapper around another link.Endpoint. It is safe
// for one reader and several writers at once.
type Endpoint struct {
	inner  link.Endpoint
	poller link.Poller // inner, if it can be read without waiting (link.Pollable)
	write  *engine     // nil when Config.Write is zero
	read   *engine     // nil when Config.Read is zero

	// Read side, when impaired: the pump goroutine feeds the engine, whose
	// output is queued in an internal pipe from readIn to readOut.
	readIn   *pipe.Endpoint
	readOut  *pipe.Endpoint
	pumpDone chan struct{}
	pumpErr  error // set before pumpDone is closed

	closeOnce sync.Once
	closeErr  error
}

var (
	_ link.Endpoint     = (*Endpoint)(nil)
	_ link.Poller       = (*Endpoint)(nil)
	_ link.DropObserver = (*Endpoint)(nil)
)

// New wraps inner. A nil clk means clock.Real. New panics if a probability
// is outside [0, 1] or a duration, rate or limit is negative: those are
// mistakes in the test, not conditions to handle.
func New(inner link.Endpoint, cfg Config, clk clock.Clock) *Endpoint {
	if clk == nil {
		clk = clock.Real{}
	}
	e := &Endpoint{inner: inner}
	e.poller, _ = link.Pollable(inner)
	if !cfg.Write.isZero() {
		e.write = newEngine("Write", cfg.Write, clk, inner.MaxPacketSize(), e.writeSink)
	}
	if !cfg.Read.isZero() {
		limit := cfg.Read.Limit
		if limit == 0 {
			limit = DefaultLimit
		}
		e.readIn, e.readOut = pipe.New(pipe.Options{MTU: inner.MaxPacketSize(), QueueLen: limit})
		e.read = newEngine("Read", cfg.Read, clk, inner.MaxPacketSize(), e.readSink)
		e.pumpDone = make(chan struct{})
		go e.pump()
	}
	return e
}

// MTU returns the inner endpoint's MTU.
func (e *Endpoint) MTU() int { return e.inner.MTU() }

// MaxPacketSize returns the inner endpoint's MaxPacketSize.
func (e *Endpoint) MaxPacketSize() int { return e.inner.MaxPacketSize() }

// Offloads returns the inner endpoint's offloads.
func (e *Endpoint) Offloads() link.Offloads { return e.inner.Offloads() }

// WritePackets impairs pkts and hands what survives, when its time comes, to
// the inner endpoint. Packets due at once are written before it returns;
// the others later, by the clock's timer. It takes every packet (a packet
// the impairer drops is taken, as a wire takes it) and returns the inner
// endpoint's error, if writing the packets due at once met one.
func (e *Endpoint) WritePackets(pkts []link.Packet) (int, error) {
	if e.write == nil {
		return e.inner.WritePackets(pkts)
	}
	return e.write.submit(pkts)
}

func (e *Endpoint) writeSink(pkts []link.Packet) (int, error) {
	return e.inner.WritePackets(pkts)
}

// ReadPackets returns packets read from the inner endpoint that survived
// the Read impairments and whose time has come, blocking until there is at
// least one. After Close it returns link.ErrClosed; if the inner endpoint
// failed, its error.
func (e *Endpoint) ReadPackets(pkts []link.Packet) (int, error) {
	if e.read == nil {
		return e.inner.ReadPackets(pkts)
	}
	n, err := e.readOut.ReadPackets(pkts)
	return n, e.readErr(err)
}

// PollPackets is ReadPackets without the wait (link.Poller): it returns
// the packets whose time has come, or 0 and nil when none has. With the
// Read direction unimpaired it polls the inner endpoint, and returns
// link.ErrNotPollable if that cannot poll (CanPoll).
func (e *Endpoint) PollPackets(pkts []link.Packet) (int, error) {
	if e.read == nil {
		if e.poller == nil {
			return 0, link.ErrNotPollable
		}
		return e.poller.PollPackets(pkts)
	}
	n, err := e.readOut.PollPackets(pkts)
	return n, e.readErr(err)
}

// WaitPackets waits until a packet's time has come (link.Poller), without
// taking it; with the Read direction unimpaired, as the inner endpoint's
// WaitPackets does.
func (e *Endpoint) WaitPackets() error {
	if e.read == nil {
		if e.poller == nil {
			return link.ErrNotPollable
		}
		return e.poller.WaitPackets()
	}
	return e.readErr(e.readOut.WaitPackets())
}

// CanPoll reports whether the endpoint can be read without waiting (see
// link.Pollable): always with the Read direction impaired, whose packets
// wait in a queue of the impairer's own; otherwise if the inner endpoint
// can.
func (e *Endpoint) CanPoll() bool {
	return e.read != nil || e.poller != nil
}

// readErr turns the read queue's link.ErrClosed into the inner endpoint's
// error, if that is why the queue closed.
func (e *Endpoint) readErr(err error) error {
	if err == link.ErrClosed {
		select {
		case <-e.pumpDone:
			if e.pumpErr != nil {
				err = e.pumpErr
			}
		default:
		}
	}
	return err
}

// pump reads the inner endpoint into the read engine until it fails.
func (e *Endpoint) pump() {
	size := e.inner.MaxPacketSize()
	batch := make([]link.Packet, 64)
	for i := range batch {
		batch[i].Data = make([]byte, 0, size)
	}
	for {
		n, err := e.inner.ReadPackets(batch)
		if n > 0 {
			e.read.submit(batch[:n])
		}
		if err != nil {
			e.pumpErr = err
			close(e.pumpDone)
			e.readOut.Close() // wake the reader, who then finds pumpErr
			return
		}
	}
}

func (e *Endpoint) readSink(pkts []link.Packet) (int, error) {
	return e.readIn.WritePackets(pkts)
}

// PacketDropped passes a drop report on to the inner endpoint when it
// observes drops and the Read direction passes packets through unchanged
// (only then is data the inner endpoint's own slice).
func (e *Endpoint) PacketDropped(data []byte, reason string) {
	if e.read != nil {
		return
	}
	if o, ok := e.inner.(link.DropObserver); ok {
		o.PacketDropped(data, reason)
	}
}

// Stats returns the counters of both directions.
func (e *Endpoint) Stats() Stats {
	var s Stats
	if e.write != nil {
		s.Write = e.write.stats()
	}
	if e.read != nil {
		s.Read = e.read.stats()
		// Packets the queue for ReadPackets could not take.
		dropped := e.readIn.Stats().Dropped
		s.Read.Overflow += dropped
		s.Read.Delivered -= dropped
	}
	return s
}

// Close discards the packets still held, stops the timers and closes the
// inner endpoint, which ends the read goroutine and wakes ReadPackets with
// link.ErrClosed. It returns the inner Close's error.
func (e *Endpoint) Close() error {
	e.closeOnce.Do(func() {
		if e.write != nil {
			e.write.close()
		}
		if e.read != nil {
			e.read.close()
			e.readOut.Close()
		}
		e.closeErr = e.inner.Close()
		if e.read != nil {
			<-e.pumpDone
			e.readIn.Close()
		}
	})
	return e.closeErr
}

func (d Direction) isZero() bool {
	return d.Loss == 0 && d.Corrupt == 0 && d.Duplicate == 0 && d.Reorder == 0 &&
		d.Rate == 0 && d.Delay == 0 && d.Jitter == 0
}

// validate panics on a configuration no test can mean.
func (d Direction) validate(name string) {
	for _, p := range []struct {
		knob string
		v    float64
	}{{"Loss", d.Loss}, {"Corrupt", d.Corrupt}, {"Duplicate", d.Duplicate}, {"Reorder", d.Reorder}} {
		if !(p.v >= 0 && p.v <= 1) {
			panic(fmt.Sprintf("impair: %s.%s = %v is not a probability in [0, 1]", name, p.knob, p.v))
		}
	}
	if d.ReorderAfter < 0 || d.ReorderDelay < 0 || d.Rate < 0 || d.RateQueue < 0 ||
		d.Delay < 0 || d.Jitter < 0 || d.Limit < 0 {
		panic(fmt.Sprintf("impair: %s has a negative count, rate or duration: %+v", name, d))
	}
}

// Random streams, one per knob, so that knobs draw independently.
const (
	streamLoss uint64 = iota + 1
	streamCorrupt
	streamDuplicate
	streamReorder
	streamJitter
)

func newRand(seed, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, stream))
}
