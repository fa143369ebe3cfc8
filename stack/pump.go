package stack

import (
	"errors"
	"time"

	"github.com/tundra-net/tundra/link"
)

// pump is the one goroutine that reads from the link. It reads a batch,
// delivers every packet in it, and reads again. There is no goroutine per
// connection: everything a received packet causes happens here.
func (s *Stack) pump() {
	defer close(s.pumpDone)
	size := s.ep.MaxPacketSize()
	batch := make([]link.Packet, s.opts.ReadBatch)
	backing := make([]byte, size*len(batch))
	for i := range batch {
		batch[i].Data = backing[i*size : (i+1)*size : (i+1)*size]
	}
	failures := 0
	for {
		for i := range batch {
			batch[i].Data = batch[i].Data[:cap(batch[i].Data)]
			batch[i].Offload = link.Offload{}
		}
		n, err := s.ep.ReadPackets(batch)
		if n > 0 {
			s.DeliverPackets(batch[:n])
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
