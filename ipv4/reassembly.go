package ipv4

import (
	"bytes"
	"encoding/binary"
	"time"
)

// Defaults of ReassemblyLimits.
const (
	// DefaultReassemblyTimeout is how long the fragments of a datagram are
	// kept waiting for the rest: 30 seconds, Linux's ipfrag_time (RFC 791
	// suggests a timer of 15 seconds, RFC 1122 section 3.3.2 60 to 120;
	// Linux's choice is the one hosts meet in practice).
	DefaultReassemblyTimeout = 30 * time.Second
	// DefaultReassemblyMemory is the most memory all datagrams in
	// reassembly may hold at once: 4 MiB, Linux's ipfrag_high_thresh.
	DefaultReassemblyMemory = 4 << 20
	// DefaultMaxReassemblies is how many datagrams may be in reassembly at
	// once.
	DefaultMaxReassemblies = 1024
)

// ReassemblyLimits bound what a Reassembler holds. Zero fields take the
// defaults.
type ReassemblyLimits struct {
	// Timeout is how long after its first fragment arrived a datagram
	// is given up (DefaultReassemblyTimeout).
	Timeout time.Duration
	// MaxDatagramSize is the largest reassembled datagram, header
	// included; at most and by default MaxPacketSize (65535). A fragment
	// reaching past it drops its datagram.
	MaxDatagramSize int
	// MaxMemory is the most bytes all datagrams in reassembly may hold
	// (DefaultReassemblyMemory). Past it the oldest datagrams are dropped
	// to make room.
	MaxMemory int
	// MaxDatagrams is how many datagrams may be in reassembly at once
	// (DefaultMaxReassemblies); a new one past it drops the oldest.
	MaxDatagrams int
}

// Outcome says what Reassembler.Add did with a fragment.
type Outcome uint8

// The outcomes of Add. Those named Datagram... concern the whole datagram
// the fragment belongs to.
const (
	// FragmentHeld: the fragment was kept; its datagram is not complete.
	FragmentHeld Outcome = iota
	// DatagramComplete: the fragment completed its datagram, which Add
	// returns.
	DatagramComplete
	// FragmentDuplicate: the fragment repeats, byte for byte, data already
	// held (the network duplicated it); it is ignored and the datagram
	// kept, as RFC 5722 lets an implementation do.
	FragmentDuplicate
	// FragmentMalformed: a fragment with More Fragments set whose data is
	// empty or not a multiple of 8 bytes (RFC 791); it is dropped.
	FragmentMalformed
	// DatagramOverlap: the fragment overlaps data held with different
	// bytes or boundaries; the whole datagram is dropped, as RFC 5722
	// requires for IPv6 (overlaps are how filters are evaded, RFC 1858).
	DatagramOverlap
	// DatagramInconsistent: the fragment contradicts the datagram's length
	// (a second last fragment at another end, data past the last
	// fragment's end); the whole datagram is dropped.
	DatagramInconsistent
	// DatagramTooLarge: the fragment reaches past MaxDatagramSize; the
	// whole datagram is dropped.
	DatagramTooLarge
	// DatagramNoMemory: the datagram would not fit in MaxMemory even after
	// older ones were dropped; it is dropped.
	DatagramNoMemory
)

var outcomeNames = [...]string{
	FragmentHeld:         "fragment held",
	DatagramComplete:     "datagram complete",
	FragmentDuplicate:    "duplicate fragment",
	FragmentMalformed:    "malformed fragment",
	DatagramOverlap:      "overlapping fragments",
	DatagramInconsistent: "inconsistent fragment lengths",
	DatagramTooLarge:     "reassembled datagram too large",
	DatagramNoMemory:     "reassembly memory exhausted",
}

// String names the outcome.
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "unknown outcome"
}

// Failed reports whether the outcome dropped a datagram or a fragment, the
// events Linux counts as ReasmFails.
func (o Outcome) Failed() bool { return o >= FragmentMalformed }

// Result is what Add reports besides a completed datagram.
type Result struct {
	Outcome Outcome
	// Evicted is how many older datagrams were dropped to make room, for
	// MaxMemory or MaxDatagrams. Each is a reassembly failure.
	Evicted int
}

// reassemblyKey identifies a datagram's fragments (RFC 791 section 3.2:
// "the fragments of a datagram are identified by the source, destination,
// protocol and identification fields").
type reassemblyKey struct {
	src, dst [4]byte
	id       uint16
	protocol Protocol
}

// span is a range [start, end) of payload bytes held.
type span struct{ start, end int }

// headroom is room kept in front of the payload in a datagram's buffer, so
// that the first fragment's header can be put there at the end without a
// copy of the data.
const headroom = MaxHeaderSize

// perDatagramCost is what one datagram in reassembly costs besides its
// buffer (its bookkeeping), counted against MaxMemory so that a flood of
// tiny fragments is bounded too.
const perDatagramCost = 256

// spanCost is what one entry of a datagram's list of held ranges costs,
// counted against MaxMemory when the list grows past its inline array (a
// datagram arriving in many separate pieces).
const spanCost = 16

// partial is one datagram in reassembly.
type partial struct {
	key      reassemblyKey
	deadline time.Time
	// buf holds payload byte i at buf[headroom+i]; it grows as fragments
	// further into the datagram arrive.
	buf []byte
	// held lists the payload ranges received, sorted and merged: this is
	// RFC 815's hole list turned around (the holes are the gaps). Most
	// datagrams need only the inline array.
	held   []span
	inline [4]span
	total  int // payload length, known from the last fragment; -1 before
	// header is the first fragment's header (offset 0), headerLen 0
	// until it arrives.
	header    [MaxHeaderSize]byte
	headerLen int
	charged   int // bytes counted against MaxMemory
	// The age list, oldest first: all datagrams share one timeout, so
	// arrival order is deadline order.
	older, newer *partial
}

// Reassembler puts fragmented IPv4 datagrams back together (RFC 791
// section 3.2, with the bookkeeping of RFC 815 in the form of a sorted list
// of received ranges). It is sans-I/O: it is handed fragments and the
// current time, returns complete datagrams, and is told when to expire
// old ones; it starts no timer and reads no clock. It is not safe for
// concurrent use: the stack guards it with a mutex.
//
// Every limit of ReassemblyLimits is enforced: a datagram that overlaps
// itself, grows too large or outstays Timeout is dropped whole, and memory
// stays within MaxMemory whatever arrives.
type Reassembler struct {
	limits   ReassemblyLimits
	pending  map[reassemblyKey]*partial
	oldest   *partial
	newest   *partial
	memory   int
	quoteBuf [MaxHeaderSize + 8]byte
	// spare are buffers of finished datagrams kept for reuse, at most
	// maxSpareBuffers, so that steady fragmented traffic allocates
	// nothing; lastComplete is the buffer of the datagram Add returned
	// last, which Recycle may give back.
	spare        [][]byte
	lastComplete []byte
	free         *partial // a removed partial, for the next datagram
}

// maxSpareBuffers is how many free buffers a Reassembler keeps for reuse
// (besides MaxMemory, at most 4 x 64 KiB).
const maxSpareBuffers = 4

// NewReassembler returns a Reassembler with the given limits (zero fields
// take the defaults).
func NewReassembler(limits ReassemblyLimits) *Reassembler {
	if limits.Timeout <= 0 {
		limits.Timeout = DefaultReassemblyTimeout
	}
	if limits.MaxDatagramSize <= 0 || limits.MaxDatagramSize > MaxPacketSize {
		limits.MaxDatagramSize = MaxPacketSize
	}
	if limits.MaxMemory <= 0 {
		limits.MaxMemory = DefaultReassemblyMemory
	}
	if limits.MaxDatagrams <= 0 {
		limits.MaxDatagrams = DefaultMaxReassemblies
	}
	return &Reassembler{limits: limits, pending: make(map[reassemblyKey]*partial)}
}

// Limits returns the limits in force, defaults filled in.
func (r *Reassembler) Limits() ReassemblyLimits { return r.limits }

// Pending returns how many datagrams are in reassembly.
func (r *Reassembler) Pending() int { return len(r.pending) }

// Memory returns the bytes held, as counted against MaxMemory.
func (r *Reassembler) Memory() int { return r.memory }

// NextDeadline returns when the oldest datagram in reassembly expires, and
// false when there is none. The caller arranges to call Expire then.
func (r *Reassembler) NextDeadline() (time.Time, bool) {
	if r.oldest == nil {
		return time.Time{}, false
	}
	return r.oldest.deadline, true
}

// Add takes one fragment (a packet with More Fragments set or a nonzero
// offset) that arrived at now. When it completes its datagram, Add returns
// the whole datagram, header and payload, with the fragment fields cleared
// and the checksum recomputed; the caller owns those bytes. Otherwise the
// datagram is nil and the Result says what happened.
func (r *Reassembler) Add(h Header, now time.Time) (datagram []byte, res Result) {
	payload := h.Payload()
	start := h.FragmentOffset()
	end := start + len(payload)
	more := h.MoreFragments()
	key := reassemblyKey{src: h.SourceBytes(), dst: h.DestinationBytes(), id: h.ID(), protocol: h.Protocol()}
	p := r.pending[key]

	// RFC 791: every fragment but the last carries a multiple of 8 bytes
	// of data, since the next one's offset is counted in 8-byte units.
	if more && (len(payload) == 0 || len(payload)%8 != 0) {
		return nil, Result{Outcome: FragmentMalformed}
	}
	// The reassembled datagram cannot exceed 65535 bytes (or the limit):
	// a fragment reaching past it is an attack or an error (the "ping of
	// death"), and the datagram is dropped.
	hlen := h.HeaderLength()
	if start == 0 && hlen+end > r.limits.MaxDatagramSize || MinHeaderSize+end > r.limits.MaxDatagramSize {
		if p != nil {
			r.remove(p)
		}
		return nil, Result{Outcome: DatagramTooLarge}
	}
	if p == nil {
		for len(r.pending) >= r.limits.MaxDatagrams ||
			r.oldest != nil && r.memory+perDatagramCost > r.limits.MaxMemory {
			r.remove(r.oldest)
			res.Evicted++
		}
		if p = r.free; p != nil {
			r.free = nil
			*p = partial{}
		} else {
			p = new(partial)
		}
		p.key, p.deadline, p.total = key, now.Add(r.limits.Timeout), -1
		p.held = p.inline[:0]
		r.pending[key] = p
		r.pushNewest(p)
		r.charge(p, perDatagramCost)
	}

	// The last fragment fixes the datagram's length; nothing may
	// contradict it.
	if !more {
		if p.total >= 0 && p.total != end || len(p.held) > 0 && p.held[len(p.held)-1].end > end {
			r.remove(p)
			res.Outcome = DatagramInconsistent
			return nil, res
		}
		p.total = end
	} else if p.total >= 0 && end > p.total {
		r.remove(p)
		res.Outcome = DatagramInconsistent
		return nil, res
	}

	// Where the new range goes among those held: i is the first held
	// range that ends after start, so every range before it ends at or
	// before start.
	i := 0
	for i < len(p.held) && p.held[i].end <= start {
		i++
	}
	if i < len(p.held) && p.held[i].start < end {
		// Overlap with data held. A fragment that lies inside it with the
		// same bytes is a duplicate; anything else drops the datagram.
		s := p.held[i]
		if s.start <= start && end <= s.end && bytes.Equal(p.buf[headroom+start:headroom+end], payload) {
			res.Outcome = FragmentDuplicate
			return nil, res
		}
		r.remove(p)
		res.Outcome = DatagramOverlap
		return nil, res
	}

	// Room for the data, and for one more range if the new one joins
	// none held; both within MaxMemory, making room by dropping older
	// datagrams.
	bufSize, spare := len(p.buf), -1
	if need := headroom + end; need > bufSize {
		bufSize = max(need, min(2*len(p.buf), headroom+r.limits.MaxDatagramSize))
		if spare = r.findSpare(bufSize); spare >= 0 {
			bufSize = len(r.spare[spare])
		}
	}
	spanCap := cap(p.held)
	joins := i > 0 && p.held[i-1].end == start || i < len(p.held) && p.held[i].start == end
	if !joins && len(p.held) == cap(p.held) {
		spanCap = 2 * cap(p.held)
	}
	if extra := bufSize - len(p.buf) + (spanCap-cap(p.held))*spanCost; extra > 0 {
		for r.memory+extra > r.limits.MaxMemory && r.oldest != p {
			r.remove(r.oldest)
			res.Evicted++
		}
		if r.memory+extra > r.limits.MaxMemory {
			r.remove(p)
			res.Outcome = DatagramNoMemory
			return nil, res
		}
		if bufSize > len(p.buf) {
			var buf []byte
			if spare >= 0 {
				buf = r.takeSpare(spare)
			} else {
				buf = make([]byte, bufSize)
			}
			copy(buf, p.buf)
			p.buf = buf
		}
		if spanCap > cap(p.held) {
			held := make([]span, len(p.held), spanCap)
			copy(held, p.held)
			p.held = held
		}
		r.charge(p, extra)
	}
	copy(p.buf[headroom+start:], payload)
	if start == 0 {
		p.headerLen = copy(p.header[:], h.HeaderBytes())
	}
	r.insert(p, i, span{start, end})

	if p.total < 0 || p.headerLen == 0 || len(p.held) != 1 || p.held[0] != (span{0, p.total}) {
		res.Outcome = FragmentHeld
		return nil, res
	}
	// Complete: the first fragment's header goes in front of the data,
	// with Total Length, flags and offset made those of a whole datagram.
	out := p.buf[headroom-p.headerLen : headroom+p.total]
	copy(out, p.header[:p.headerLen])
	binary.BigEndian.PutUint16(out[2:4], uint16(p.headerLen+p.total))
	binary.BigEndian.PutUint16(out[6:8], binary.BigEndian.Uint16(out[6:8])&(uint16(DontFragment)<<13))
	out[10], out[11] = 0, 0
	binary.BigEndian.PutUint16(out[10:12], Fold(Checksum(out[:p.headerLen], 0)))
	r.lastComplete, p.buf = p.buf, nil // the caller's now, until Recycle
	r.remove(p)
	res.Outcome = DatagramComplete
	return out, res
}

// insert puts s into p.held at index i, merging it with neighbours it
// touches. s overlaps none of them, and p.held has room (Add checked).
func (*Reassembler) insert(p *partial, i int, s span) {
	mergePrev := i > 0 && p.held[i-1].end == s.start
	mergeNext := i < len(p.held) && p.held[i].start == s.end
	switch {
	case mergePrev && mergeNext:
		p.held[i-1].end = p.held[i].end
		p.held = append(p.held[:i], p.held[i+1:]...)
	case mergePrev:
		p.held[i-1].end = s.end
	case mergeNext:
		p.held[i].start = s.start
	default: // Add made room: no allocation here
		p.held = append(p.held, span{})
		copy(p.held[i+1:], p.held[i:])
		p.held[i] = s
	}
}

// Expire drops every datagram whose time ran out at now (RFC 791: "if the
// timer runs out, the all reassembly resources for this buffer identifier
// are released"). For each one whose first fragment had arrived, it calls
// timedOut with a view of that fragment's header and its first 8 data
// bytes, valid only during the call: RFC 792 and RFC 1122 section 3.3.2
// say to send ICMP Time Exceeded (code 1) quoting it. It returns how many
// datagrams timed out.
func (r *Reassembler) Expire(now time.Time, timedOut func(first Header)) int {
	n := 0
	for r.oldest != nil && !now.Before(r.oldest.deadline) {
		p := r.oldest
		n++
		if p.headerLen > 0 && timedOut != nil {
			q := copy(r.quoteBuf[:], p.header[:p.headerLen])
			q += copy(r.quoteBuf[q:], p.buf[headroom:headroom+min(8, p.held[0].end)])
			if first, err := ParseQuotedHeader(r.quoteBuf[:q]); err == nil {
				timedOut(first)
			}
		}
		r.remove(p)
	}
	return n
}

// charge counts n more bytes of p against MaxMemory.
func (r *Reassembler) charge(p *partial, n int) {
	p.charged += n
	r.memory += n
}

// Recycle tells the Reassembler that the caller is done with datagram,
// the one Add returned last, so that its buffer can serve a later datagram.
// Any other slice is ignored. The caller must not touch datagram after.
func (r *Reassembler) Recycle(datagram []byte) {
	last := r.lastComplete
	if len(last) == 0 || cap(datagram) == 0 {
		return
	}
	// datagram is a slice of last that runs to its end: compare the ends.
	if &datagram[:cap(datagram)][cap(datagram)-1] != &last[len(last)-1] {
		return
	}
	r.lastComplete = nil
	r.keepSpare(last)
}

// findSpare returns the index of a spare buffer of at least size bytes,
// or -1.
func (r *Reassembler) findSpare(size int) int {
	for i, b := range r.spare {
		if len(b) >= size {
			return i
		}
	}
	return -1
}

// takeSpare removes spare buffer i from the list and returns it.
func (r *Reassembler) takeSpare(i int) []byte {
	b := r.spare[i]
	last := len(r.spare) - 1
	r.spare[i], r.spare[last] = r.spare[last], nil
	r.spare = r.spare[:last]
	return b
}

// keepSpare keeps a free buffer for reuse if there is room in the list,
// preferring large buffers, which serve any datagram.
func (r *Reassembler) keepSpare(b []byte) {
	b = b[:cap(b)]
	if len(r.spare) < maxSpareBuffers {
		r.spare = append(r.spare, b)
		return
	}
	for i, s := range r.spare {
		if len(s) < len(b) {
			r.spare[i] = b
			return
		}
	}
}

// remove forgets a datagram and frees its memory, keeping its buffer for
// reuse.
func (r *Reassembler) remove(p *partial) {
	delete(r.pending, p.key)
	if p.buf != nil {
		r.keepSpare(p.buf)
		p.buf = nil
	}
	r.memory -= p.charged
	if p.older != nil {
		p.older.newer = p.newer
	} else {
		r.oldest = p.newer
	}
	if p.newer != nil {
		p.newer.older = p.older
	} else {
		r.newest = p.older
	}
	p.older, p.newer = nil, nil
	r.free = p
}

// pushNewest appends p to the age list.
func (r *Reassembler) pushNewest(p *partial) {
	p.older = r.newest
	if r.newest != nil {
		r.newest.newer = p
	} else {
		r.oldest = p
	}
	r.newest = p
}
