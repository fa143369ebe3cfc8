// Package pipe connects two link endpoints in memory: what one writes, the
// other reads.
//
// A pipe is the wire of the in-memory world. Two stacks joined by a pipe talk
// IPv4 to each other without a kernel, without root and without real time,
// which is how most of tundra's tests run. Each direction is a bounded queue
// of packets, like the transmit queue of a network card: when it is full,
// further packets are dropped (and counted), exactly as a congested wire
// would drop them. Writes copy each packet into a buffer the pipe owns, so
// the writer may reuse its buffer at once; reads copy it out into the buffer
// the reader supplies. Both buffers are kept for reuse, so a pipe in steady
// state allocates nothing per packet.
//
// A pipe may advertise offloads (Options.Offloads). It performs no offloaded
// work itself: it carries each packet's link.Offload metadata across
// unchanged, which lets code that writes TCP super-packets or partial
// checksums be tested in memory against code that must accept them.
package pipe

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"

	"github.com/tundra-net/tundra/link"
)

// Defaults for Options fields left zero.
const (
	DefaultMTU      = 1500
	DefaultQueueLen = 1024
)

// maxSuperPacket is the largest packet an IPv4 total-length field can
// describe (RFC 791 section 3.1), and so the largest super-packet.
const maxSuperPacket = 65535

// ErrPacketTooLarge is returned by WritePackets for a packet longer than the
// pipe can carry: MTU bytes for an ordinary packet, 65535 for a super-packet
// on a pipe that advertises TSO4 or USO4.
var ErrPacketTooLarge = errors.New("pipe: packet larger than the link carries")

// Options configure a pipe. The zero value is a 1500-byte link with 1024
// packets of queue in each direction and no offloads.
type Options struct {
	// MTU is the largest ordinary packet, in bytes (default 1500).
	MTU int
	// QueueLen is how many packets each direction holds before it drops
	// (default 1024).
	QueueLen int
	// Offloads are advertised by both endpoints. With TSO4 or USO4 set,
	// MaxPacketSize is 65535 and super-packets up to that size are carried.
	Offloads link.Offloads
}

// Stats counts the packets one endpoint has handled.
type Stats struct {
	// Sent counts packets written on this endpoint and queued for the peer.
	Sent uint64
	// Dropped counts packets written on this endpoint that were discarded
	// because the peer's queue was full or the peer was closed.
	Dropped uint64
	// Delivered counts packets this endpoint's reads handed to their caller.
	Delivered uint64
}

// Endpoint is one end of a pipe. It implements link.Endpoint and
// link.Poller, and is safe for one reader (or one waiter and pollers that
// take turns) and any number of writers at once.
type Endpoint struct {
	mtu      int
	maxSize  int
	offloads link.Offloads
	in       *queue // packets waiting for this endpoint to read them
	peer     *Endpoint

	closed    atomic.Bool
	sent      atomic.Uint64
	dropped   atomic.Uint64
	delivered atomic.Uint64
}

var (
	_ link.Endpoint = (*Endpoint)(nil)
	_ link.Poller   = (*Endpoint)(nil)
)

// New returns the two connected ends of a new pipe.
func New(opts Options) (a, b *Endpoint) {
	if opts.MTU <= 0 {
		opts.MTU = DefaultMTU
	}
	if opts.QueueLen <= 0 {
		opts.QueueLen = DefaultQueueLen
	}
	maxSize := opts.MTU
	if opts.Offloads.TSO4 || opts.Offloads.USO4 {
		maxSize = maxSuperPacket
	}
	a = &Endpoint{mtu: opts.MTU, maxSize: maxSize, offloads: opts.Offloads, in: newQueue(opts.QueueLen, opts.MTU)}
	b = &Endpoint{mtu: opts.MTU, maxSize: maxSize, offloads: opts.Offloads, in: newQueue(opts.QueueLen, opts.MTU)}
	a.peer, b.peer = b, a
	return a, b
}

// MTU returns the pipe's MTU.
func (e *Endpoint) MTU() int { return e.mtu }

// MaxPacketSize returns the MTU, or 65535 when the pipe advertises TSO4 or
// USO4.
func (e *Endpoint) MaxPacketSize() int { return e.maxSize }

// Offloads returns the offloads given in Options.
func (e *Endpoint) Offloads() link.Offloads { return e.offloads }

// WritePackets copies pkts into the peer's queue, in order. Packets that do
// not fit in the queue are dropped and counted in Stats, as a wire drops them;
// that is not an error. A packet too large for the link stops the batch with
// ErrPacketTooLarge; the count says how many packets before it were taken.
func (e *Endpoint) WritePackets(pkts []link.Packet) (int, error) {
	if e.closed.Load() {
		return 0, link.ErrClosed
	}
	taken, err := len(pkts), error(nil)
	for i := range pkts {
		if e.tooLarge(&pkts[i]) {
			taken, err = i, ErrPacketTooLarge
			break
		}
	}
	queued := e.peer.in.push(pkts[:taken])
	e.sent.Add(uint64(queued))
	e.dropped.Add(uint64(taken - queued))
	return taken, err
}

func (e *Endpoint) tooLarge(p *link.Packet) bool {
	if p.Offload.GSOType != link.GSONone {
		return len(p.Data) > e.maxSize
	}
	return len(p.Data) > e.mtu
}

// ReadPackets blocks until at least one packet is queued for this endpoint,
// then copies as many queued packets as fit into pkts and returns how many.
// Each pkts[i].Data must have room for the packet (MaxPacketSize always
// suffices); if the first waiting packet does not fit in pkts[0].Data it
// returns io.ErrShortBuffer and leaves the packet queued. After Close it
// returns link.ErrClosed.
func (e *Endpoint) ReadPackets(pkts []link.Packet) (int, error) {
	return e.read(pkts, true)
}

// PollPackets is ReadPackets without the wait: it returns 0 and no error
// when nothing is queued (link.Poller). It also lets a test move packets
// one step at a time.
func (e *Endpoint) PollPackets(pkts []link.Packet) (int, error) {
	return e.read(pkts, false)
}

// WaitPackets blocks until a packet is queued for this endpoint, without
// taking it (link.Poller). After Close it returns link.ErrClosed.
func (e *Endpoint) WaitPackets() error {
	return e.in.wait()
}

func (e *Endpoint) read(pkts []link.Packet, wait bool) (int, error) {
	if len(pkts) == 0 {
		return 0, nil
	}
	n, err := e.in.pop(pkts, wait)
	e.delivered.Add(uint64(n))
	return n, err
}

// Pending returns how many packets are queued for this endpoint to read.
func (e *Endpoint) Pending() int { return e.in.len() }

// Stats returns this endpoint's counters.
func (e *Endpoint) Stats() Stats {
	return Stats{Sent: e.sent.Load(), Dropped: e.dropped.Load(), Delivered: e.delivered.Load()}
}

// Close closes this end: its reads and writes return link.ErrClosed, a
// blocked ReadPackets returns at once, and packets still queued for it are
// discarded. Packets the peer writes afterwards are dropped, as if the cable
// were unplugged; the peer itself stays open. Close is idempotent.
func (e *Endpoint) Close() error {
	e.closed.Store(true)
	e.in.close()
	return nil
}

// queue is a bounded ring of packets. The buffers that hold packet bytes
// are recycled through a free list, most recently freed first, so a queue
// allocates only as many buffers as it has ever held packets at once, and
// once those exist pushing and popping allocate nothing.
type queue struct {
	mu       sync.Mutex
	nonEmpty sync.Cond
	slots    []slot
	head     int // index of the oldest packet
	count    int
	closed   bool
	free     [][]byte // buffers not holding a packet
	bufSize  int      // initial capacity of a new buffer
}

type slot struct {
	data    []byte
	offload link.Offload
}

func newQueue(length, bufSize int) *queue {
	q := &queue{slots: make([]slot, length), free: make([][]byte, 0, length), bufSize: bufSize}
	q.nonEmpty.L = &q.mu
	return q
}

// push copies as many of pkts as fit into the queue and returns how many.
func (q *queue) push(pkts []link.Packet) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return 0
	}
	n := min(len(pkts), len(q.slots)-q.count)
	for i := range n {
		s := &q.slots[(q.head+q.count)%len(q.slots)]
		s.data = append(q.getBuffer(len(pkts[i].Data)), pkts[i].Data...)
		s.offload = pkts[i].Offload
		q.count++
	}
	if n > 0 {
		q.nonEmpty.Signal()
	}
	return n
}

// getBuffer returns an empty buffer with room for size bytes.
func (q *queue) getBuffer(size int) []byte {
	if last := len(q.free) - 1; last >= 0 {
		buf := q.free[last]
		q.free = q.free[:last]
		if cap(buf) >= size {
			return buf[:0]
		}
	}
	return make([]byte, 0, max(size, q.bufSize))
}

// pop copies queued packets into pkts, waiting for the first one if wait is
// set.
func (q *queue) pop(pkts []link.Packet, wait bool) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for wait && q.count == 0 && !q.closed {
		q.nonEmpty.Wait()
	}
	if q.closed {
		return 0, link.ErrClosed
	}
	n := 0
	for n < len(pkts) && q.count > 0 {
		s := &q.slots[q.head]
		if cap(pkts[n].Data) < len(s.data) {
			if n == 0 {
				return 0, io.ErrShortBuffer
			}
			break
		}
		pkts[n].Data = append(pkts[n].Data[:0], s.data...)
		pkts[n].Offload = s.offload
		q.free = append(q.free, s.data)
		s.data = nil
		q.head = (q.head + 1) % len(q.slots)
		q.count--
		n++
	}
	return n, nil
}

// wait blocks until a packet is queued or the queue is closed.
func (q *queue) wait() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.count == 0 && !q.closed {
		q.nonEmpty.Wait()
	}
	if q.closed {
		return link.ErrClosed
	}
	return nil
}

func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.count
}

func (q *queue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.count = 0
	q.free = nil
	for i := range q.slots {
		q.slots[i].data = nil
	}
	q.nonEmpty.Broadcast()
}
