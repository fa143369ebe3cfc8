package stack

import (
	"errors"
	"sync"
	"time"

	"github.com/tundra-net/tundra/link"
)

// linkReader is the stack's side of reading the link: one batch of buffers
// and the lock that makes taking packets and delivering them one step, so
// that packets are delivered in the order the link gave them whoever reads.
// The pump reads through it; so does a busy-polling TCP reader (pollLink)
// when the endpoint is a link.Poller.
type linkReader struct {
	mu     sync.Mutex
	batch  []link.Packet
	filled int         // batch entries the last read filled (resliced, with offloads)
	poller link.Poller // the endpoint, if it can be read without waiting
}

func (r *linkReader) init(ep link.Endpoint, batchLen int) {
	size := ep.MaxPacketSize()
	r.batch = make([]link.Packet, batchLen)
	backing := make([]byte, size*batchLen)
	for i := range r.batch {
		r.batch[i].Data = backing[i*size : (i+1)*size : (i+1)*size]
	}
	r.poller, _ = link.Pollable(ep)
}

// resetBatch gives the buffers the last read filled back their full
// capacity and no offloads (mu held); the others are untouched. A busy
// reader polls many times per packet, so this is not a loop over the
// whole batch.
func (r *linkReader) resetBatch() {
	for i := range r.batch[:r.filled] {
		r.batch[i].Data = r.batch[i].Data[:cap(r.batch[i].Data)]
		r.batch[i].Offload = link.Offload{}
	}
	r.filled = 0
}

// read fills the batch from the link (mu held): PollPackets if it can be
// polled, else ReadPackets, which waits.
func (r *linkReader) read(ep link.Endpoint) (int, error) {
	r.resetBatch()
	var n int
	var err error
	if r.poller != nil {
		n, err = r.poller.PollPackets(r.batch)
	} else {
		n, err = ep.ReadPackets(r.batch)
	}
	// Endpoints read into each entry's capacity and reslice only the
	// entries they count; after an error, reset them all to be safe.
	r.filled = len(r.batch)
	if err == nil {
		r.filled = n
	}
	return n, err
}

// pump is the goroutine that reads from the link. It reads a batch,
// delivers every packet in it, and reads again. There is no goroutine per
// connection: everything a received packet causes happens here, or in a
// reader that polls the link itself (pollLink).
func (s *Stack) pump() {
	defer close(s.pumpDone)
	r := &s.link
	failures := 0
	for {
		// Take what is queued and deliver it under the lock, so that a
		// polling reader cannot deliver packets read after these before
		// them. With a Poller, wait without the lock; a batch that came
		// back full may have more behind it, so look again before
		// waiting. Without one, ReadPackets waits (no one else reads).
		r.mu.Lock()
		n, err := r.read(s.ep)
		if n > 0 {
			s.DeliverPackets(r.batch[:n])
		}
		r.mu.Unlock()
		if r.poller != nil && err == nil && n < len(r.batch) {
			err = r.poller.WaitPackets()
		}
		if err != nil {
			select {
			case <-s.closed:
				return
			default:
			}
			if errors.Is(err, link.ErrClosed) {
				s.pumpErr = err
				return
			}
			// A transient read error: back off a little, and give up after
			// a long run of them rather than spin.
			failures++
			if failures > 1000 {
				s.pumpErr = err
				return
			}
			time.Sleep(time.Millisecond)
			continue
		}
		failures = 0
	}
}

// pollLink takes the packets already queued on the link and delivers
// them, on the calling goroutine, if the endpoint can be polled and nobody
// else is reading it just now; it reports whether it delivered any. A
// busy-polling reader calls it between looks for its data, so that a
// request that arrives while it watches is read, delivered and handed to
// it by its own goroutine, with no wake-up of the pump and of the reader
// in between. Errors are left for the pump, which meets them again.
func (s *Stack) pollLink() bool {
	r := &s.link
	if r.poller == nil || !r.mu.TryLock() {
		return false
	}
	n, _ := r.read(s.ep)
	if n > 0 {
		s.counters.tcp.busyPollRxPackets.add(uint64(n))
		s.DeliverPackets(r.batch[:n])
	}
	r.mu.Unlock()
	return n > 0
}

// DeliverPackets processes received packets, in order, on the calling
// goroutine. The pump calls it for every batch it reads; with
// Options.Manual the caller does. The packets' Data may be reused once it
// returns.
func (s *Stack) DeliverPackets(pkts []link.Packet) {
	for i := range pkts {
		s.counters.ip.inReceives.inc()
		if reason := s.deliverIPv4(&pkts[i]); reason != DropNone {
			s.counters.drops[reason].inc()
			if s.observer != nil {
				s.observer.PacketDropped(pkts[i].Data, reason.String())
			}
		}
	}
}
