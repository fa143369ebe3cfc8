package stack

import (
	"sync"
	"time"

	"github.com/tundra-net/tundra/clock"
	"github.com/tundra-net/tundra/ipv4"
	"github.com/tundra-net/tundra/link"
)

// fragmentation is the stack's part of IPv4 fragmentation (RFC 791
// section 3.2): the Reassembler that holds received fragments, the clock
// timer that expires them, and the buffers for datagrams sent in pieces.
// The protocol logic is in package ipv4; this is the glue to the clock, the
// counters and the link.
type fragmentation struct {
	s *Stack

	mu      sync.Mutex
	reasm   *ipv4.Reassembler
	timer   clock.Timer
	timerAt time.Time
	closed  bool

	bufs sync.Pool // *fragBuf
}

// fragBuf holds one datagram larger than the MTU while it is built, and
// the fragments it is cut into, with the batch that carries them to the
// link in one WritePackets call.
type fragBuf struct {
	datagram []byte // ipv4.MaxPacketSize bytes
	space    []byte // room for every fragment, mtu bytes each
	pkts     []link.Packet
}

func newFragmentation(s *Stack) *fragmentation {
	f := &fragmentation{s: s, reasm: ipv4.NewReassembler(s.opts.Reassembly)}
	mtu := s.ep.MTU()
	// The most fragments a 65535-byte datagram can need at this MTU: the
	// data of each but the last is a multiple of 8.
	perFragment := max((mtu-ipv4.MinHeaderSize)&^7, 8)
	most := (ipv4.MaxPacketSize+perFragment-1)/perFragment + 1
	f.bufs.New = func() any {
		return &fragBuf{
			datagram: make([]byte, ipv4.MaxPacketSize),
			space:    make([]byte, most*mtu),
			pkts:     make([]link.Packet, most),
		}
	}
	return f
}

// reassemble gives a received fragment to the Reassembler. When it
// completes a datagram, reassemble returns the whole datagram and true, and
// input carries on with it; otherwise it returns false and the reason the
// fragment was dropped (DropNone when it is held).
func (s *Stack) reassemble(fragment ipv4.Header) (ipv4.Header, bool, DropReason) {
	f, ctr := s.frag, &s.counters.ip
	ctr.reasmReqds.inc()
	f.mu.Lock()
	datagram, res := f.reasm.Add(fragment, s.clock.Now())
	f.armTimerLocked()
	f.mu.Unlock()

	ctr.reasmFails.add(uint64(res.Evicted))
	if res.Outcome.Failed() {
		ctr.reasmFails.inc()
	}
	switch res.Outcome {
	case ipv4.FragmentHeld:
		return ipv4.Header{}, false, DropNone
	case ipv4.DatagramComplete:
		whole, err := ipv4.ParseHeader(datagram)
		if err != nil { // cannot happen: the Reassembler built the header
			ctr.reasmFails.inc()
			return ipv4.Header{}, false, DropFragmentBadLength
		}
		ctr.reasmOKs.inc()
		return whole, true, DropNone
	case ipv4.FragmentDuplicate:
		return ipv4.Header{}, false, DropFragmentDuplicate
	case ipv4.DatagramOverlap:
		ctr.reasmOverlaps.inc()
		return ipv4.Header{}, false, DropFragmentOverlap
	case ipv4.DatagramInconsistent:
		return ipv4.Header{}, false, DropFragmentBadLength
	case ipv4.DatagramTooLarge:
		return ipv4.Header{}, false, DropFragmentTooLarge
	case ipv4.DatagramNoMemory:
		return ipv4.Header{}, false, DropFragmentNoMemory
	default: // ipv4.FragmentMalformed
		return ipv4.Header{}, false, DropFragment
	}
}

// recycleDatagram gives the buffer of a reassembled datagram back to the
// Reassembler once input is done with it (transports copy what they keep),
// so that steady fragmented traffic allocates nothing.
func (s *Stack) recycleDatagram(whole ipv4.Header) {
	s.frag.mu.Lock()
	s.frag.reasm.Recycle(whole.Bytes())
	s.frag.mu.Unlock()
}

// armTimerLocked makes the expiry timer match the oldest datagram's
// deadline (f.mu held). All datagrams share one timeout, so one timer for
// the oldest is enough.
func (f *fragmentation) armTimerLocked() {
	at, ok := f.reasm.NextDeadline()
	if !ok || f.closed {
		if f.timer != nil && !f.timerAt.IsZero() {
			f.timer.Stop()
			f.timerAt = time.Time{}
		}
		return
	}
	if at.Equal(f.timerAt) {
		return
	}
	f.timerAt = at
	d := at.Sub(f.s.clock.Now())
	if f.timer == nil {
		f.timer = f.s.clock.AfterFunc(d, f.expire)
	} else {
		f.timer.Reset(d)
	}
}

// expire runs when the oldest datagram's time is up: it drops every
// datagram past its deadline and, for those whose first fragment arrived,
// sends ICMP Time Exceeded, code 1 "fragment reassembly time exceeded"
// (RFC 792; RFC 1122 section 3.3.2), rate-limited like every ICMP error.
func (f *fragmentation) expire() {
	s := f.s
	f.mu.Lock()
	defer f.mu.Unlock()
	f.timerAt = time.Time{}
	if f.closed {
		return
	}
	n := f.reasm.Expire(s.clock.Now(), func(first ipv4.Header) {
		s.sendICMPError(first, ipv4.ICMPTimeExceeded, ipv4.TimeExceededReassembly, [4]byte{})
	})
	s.counters.ip.reasmTimeout.add(uint64(n))
	s.counters.ip.reasmFails.add(uint64(n))
	f.armTimerLocked()
}

// close stops the timer (Stack.Close).
func (f *fragmentation) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	if f.timer != nil {
		f.timer.Stop()
	}
}

// ReassemblyPending returns how many datagrams are waiting for fragments,
// and the bytes they hold (counted against Options.Reassembly.MaxMemory).
func (s *Stack) ReassemblyPending() (datagrams, bytes int) {
	s.frag.mu.Lock()
	defer s.frag.mu.Unlock()
	return s.frag.reasm.Pending(), s.frag.reasm.Memory()
}

// getFragBuf returns a pooled buffer for a datagram larger than the MTU.
func (s *Stack) getFragBuf() *fragBuf { return s.frag.bufs.Get().(*fragBuf) }

func (s *Stack) putFragBuf(b *fragBuf) {
	clear(b.pkts)
	s.frag.bufs.Put(b)
}

// fragment cuts the datagram in b.datagram[:n], larger than the MTU and
// without DF, into fragments (RFC 791 section 3.2), ready in b.pkts[:k]
// for one WritePackets call. It reports false if the datagram cannot be
// cut (an MTU too small).
func (s *Stack) fragment(b *fragBuf, n int) (k int, ok bool) {
	mtu := s.ep.MTU()
	h, err := ipv4.ParseHeader(b.datagram[:n])
	if err != nil {
		s.counters.ip.fragFails.inc()
		return 0, false
	}
	fr, err := ipv4.NewFragmenter(h, mtu)
	if err != nil {
		s.counters.ip.fragFails.inc()
		return 0, false
	}
	for ; k < len(b.pkts); k++ {
		room := b.space[k*mtu : (k+1)*mtu]
		m := fr.Next(room)
		if m == 0 {
			break
		}
		b.pkts[k] = link.Packet{Data: room[:m]}
	}
	s.counters.ip.fragOKs.inc()
	s.counters.ip.fragCreates.add(uint64(k))
	return k, true
}
