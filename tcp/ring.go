package tcp

import (
	"math/bits"
	"sync"
)

// ring is a byte ring buffer of a fixed logical capacity whose memory comes
// and goes with use. Readers see its contents as at most two slices (before
// and after the wrap), so data moves to and from it without extra copies.
//
// A connection's rings are sized for its whole window (hundreds of KiB),
// but most connections hold only a few bytes most of the time, and an idle
// one holds none. So the ring starts with no memory, takes a buffer from a
// pool of power-of-two sizes when data arrives, moves to a larger one as
// it fills, and gives its buffer back when it empties. An idle connection
// costs no buffer memory, and opening one does not zero half a megabyte.
type ring struct {
	buf   []byte  // physical storage; len(buf) <= size, power of two or size
	bufp  *[]byte // the pool's handle for buf, given back with it
	size  int     // logical capacity
	start int     // index of the first byte in buf
	n     int     // bytes held
	hi    int     // bytes from start ever written (held or beyond: out-of-order data)
}

func newRing(size int) ring { return ring{size: max(size, 1)} }

func (r *ring) len() int  { return r.n }
func (r *ring) cap() int  { return r.size }
func (r *ring) free() int { return r.size - r.n }

// write appends as much of p as fits and returns how many bytes it took.
func (r *ring) write(p []byte) int {
	n := min(len(p), r.free())
	r.writeAt(r.n, p[:n])
	r.n += n
	return n
}

// writeAt copies p to offset off from the start (off+len(p) <= cap) without
// changing the length: used for out-of-order data beyond the end.
func (r *ring) writeAt(off int, p []byte) {
	if len(p) == 0 {
		return
	}
	end := off + len(p)
	if end > len(r.buf) {
		r.grow(end)
	}
	i := (r.start + off) % len(r.buf)
	c := copy(r.buf[i:], p)
	copy(r.buf, p[c:])
	r.hi = max(r.hi, end)
}

// grow moves the contents to a buffer of at least need bytes (at most the
// logical size), keeping every byte written so far, and starting at 0.
func (r *ring) grow(need int) {
	size := ringClassSize(need, r.size)
	nbp := getRingBuffer(size)
	nb := *nbp
	if r.hi > 0 {
		a, b := r.slices(0, min(r.hi, len(r.buf)))
		copy(nb[copy(nb, a):], b)
	}
	if r.bufp != nil {
		putRingBuffer(r.bufp)
	}
	r.buf, r.bufp, r.start = nb, nbp, 0
}

// slices returns the n bytes at offset off from the start as two slices.
func (r *ring) slices(off, n int) (first, second []byte) {
	if n == 0 {
		return nil, nil
	}
	i := (r.start + off) % len(r.buf)
	if i+n <= len(r.buf) {
		return r.buf[i : i+n], nil
	}
	return r.buf[i:], r.buf[:n-(len(r.buf)-i)]
}

// read copies up to len(p) bytes from the start into p and consumes them.
func (r *ring) read(p []byte) int {
	n := min(len(p), r.n)
	a, b := r.slices(0, n)
	copy(p[copy(p, a):], b)
	r.consume(n)
	return n
}

// consume drops n bytes from the start. Once nothing is held or written
// beyond, the buffer goes back to the pool.
func (r *ring) consume(n int) {
	if n == 0 {
		return
	}
	r.start = (r.start + n) % len(r.buf)
	r.n -= n
	r.hi = max(r.hi-n, r.n)
	// start is not reset while out-of-order data may sit beyond the end at
	// positions relative to it (hi > n).
	if r.n == 0 && r.hi == 0 {
		r.release()
	}
}

// release gives the buffer back; the ring keeps its logical size.
func (r *ring) release() {
	if r.bufp != nil {
		putRingBuffer(r.bufp)
	}
	r.buf, r.bufp, r.start, r.n, r.hi = nil, nil, 0, 0, 0
}

// extend marks n more bytes after the end as held (they were written with
// writeAt before).
func (r *ring) extend(n int) { r.n += n }

// Ring buffers come in power-of-two sizes from minRingBuffer to
// maxPooledRingBuffer, each size with its own pool; a ring whose logical
// size is smaller than the class it needs, or larger than the largest
// class, gets a buffer of exactly its size, not pooled.
const (
	minRingBuffer       = 4 << 10
	maxPooledRingBuffer = 4 << 20
	ringClasses         = 11 // 4 KiB << 0 ... 4 KiB << 10
)

var ringPools [ringClasses]sync.Pool

// ringClassSize returns the buffer size for need bytes in a ring of the
// given logical size.
func ringClassSize(need, size int) int {
	c := max(minRingBuffer, 1<<bits.Len(uint(need-1)))
	if c >= size || c > maxPooledRingBuffer {
		return size
	}
	return c
}

func ringClass(size int) int {
	if size < minRingBuffer || size > maxPooledRingBuffer || size&(size-1) != 0 {
		return -1
	}
	return bits.Len(uint(size/minRingBuffer)) - 1
}

// getRingBuffer returns a buffer of size bytes, with the handle that
// putRingBuffer takes back (so that returning it allocates nothing).
func getRingBuffer(size int) *[]byte {
	if c := ringClass(size); c >= 0 {
		if b, ok := ringPools[c].Get().(*[]byte); ok {
			return b
		}
	}
	b := make([]byte, size)
	return &b
}

func putRingBuffer(b *[]byte) {
	if c := ringClass(len(*b)); c >= 0 {
		ringPools[c].Put(b)
	}
}

// maxOutOfOrderRanges bounds the number of separate holes the reassembly
// tracks; a segment that would need more is dropped.
const maxOutOfOrderRanges = 32

// seqRange is the half-open range [start, end) of sequence space.
type seqRange struct{ start, end Seq }

// rangeSet is a set of sequence ranges: sorted, disjoint, not touching, at
// most maxOutOfOrderRanges of them. The receiver uses one to track which
// ranges beyond RCV.NXT have arrived (their bytes sit in the receive ring
// at their final place). The table (256 bytes) is allocated at the first
// add and kept, never grown: most connections never see data out of
// order, and an idle connection should not carry it.
type rangeSet struct {
	r     []seqRange // r[:n] are the ranges; len(r) is 0 or maxOutOfOrderRanges
	n     int
	bytes int // total bytes in the ranges
}

// add records [start, end) and reports how many new bytes it covered, or
// false if the table is full and the range could not be recorded.
func (o *rangeSet) add(start, end Seq) (added int, ok bool) {
	if o.r == nil {
		o.r = make([]seqRange, maxOutOfOrderRanges)
	}
	// Find the first range that ends at or after start.
	i := 0
	for i < o.n && o.r[i].end.LessThan(start) {
		i++
	}
	// Merge every range that touches [start, end).
	j := i
	ns, ne := start, end
	covered := 0
	for j < o.n && o.r[j].start.LessThanEq(end) {
		ns = MinSeq(ns, o.r[j].start)
		ne = MaxSeq(ne, o.r[j].end)
		covered += int(o.r[j].end.Sub(o.r[j].start))
		j++
	}
	merged := j - i
	if merged == 0 {
		if o.n == len(o.r) {
			return 0, false
		}
		copy(o.r[i+1:o.n+1], o.r[i:o.n])
		o.n++
	} else if merged > 1 {
		copy(o.r[i+1:], o.r[j:o.n])
		o.n -= merged - 1
	}
	o.r[i] = seqRange{ns, ne}
	total := int(ne.Sub(ns))
	added = total - covered
	o.bytes += added
	return added, true
}

// takeFrom removes the first range if it starts at or before next and
// returns how far past next it reaches (0 if it does not).
func (o *rangeSet) takeFrom(next Seq) int {
	if o.n == 0 || o.r[0].start.GreaterThan(next) {
		return 0
	}
	first := o.r[0]
	copy(o.r, o.r[1:o.n])
	o.n--
	o.bytes -= int(first.end.Sub(first.start))
	if first.end.LessThanEq(next) {
		return 0
	}
	return int(first.end.Sub(next))
}

func (o *rangeSet) reset() { o.n, o.bytes = 0, 0 }

// dropBelow forgets everything before seq, cutting a range that spans it.
func (o *rangeSet) dropBelow(seq Seq) {
	i := 0
	for i < o.n && o.r[i].end.LessThanEq(seq) {
		o.bytes -= int(o.r[i].end.Sub(o.r[i].start))
		i++
	}
	if i > 0 {
		copy(o.r, o.r[i:o.n])
		o.n -= i
	}
	if o.n > 0 && o.r[0].start.LessThan(seq) {
		o.bytes -= int(seq.Sub(o.r[0].start))
		o.r[0].start = seq
	}
}

// containing returns the range that holds seq.
func (o *rangeSet) containing(seq Seq) (seqRange, bool) {
	for _, r := range o.r[:o.n] {
		if seq.GreaterThanEq(r.start) && seq.LessThan(r.end) {
			return r, true
		}
	}
	return seqRange{}, false
}
