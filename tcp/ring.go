package tcp

// ring is a fixed-size byte ring buffer, allocated once. Readers see its
// contents as at most two slices (before and after the wrap), so data moves
// to and from it without extra copies or allocation.
type ring struct {
	buf   []byte
	start int // index of the first byte
	n     int // bytes held
}

func newRing(size int) ring { return ring{buf: make([]byte, max(size, 1))} }

func (r *ring) len() int  { return r.n }
func (r *ring) cap() int  { return len(r.buf) }
func (r *ring) free() int { return len(r.buf) - r.n }

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
	i := (r.start + off) % len(r.buf)
	c := copy(r.buf[i:], p)
	copy(r.buf, p[c:])
}

// slices returns the n bytes at offset off from the start as two slices.
func (r *ring) slices(off, n int) (first, second []byte) {
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

// consume drops n bytes from the start.
func (r *ring) consume(n int) {
	r.start = (r.start + n) % len(r.buf)
	r.n -= n
	// start is not reset when the ring empties: out-of-order data may sit
	// beyond the end at positions relative to it.
}

// extend marks n more bytes after the end as held (they were written with
// writeAt before).
func (r *ring) extend(n int) { r.n += n }

// maxOutOfOrderRanges bounds the number of separate holes the reassembly
// tracks; a segment that would need more is dropped.
const maxOutOfOrderRanges = 32

// seqRange is the half-open range [start, end) of sequence space.
type seqRange struct{ start, end Seq }

// outOfOrder tracks which ranges beyond RCV.NXT have arrived (their bytes sit
// in the receive ring at their final place). Sorted, disjoint, not
// touching; a fixed array, so it never allocates or grows.
type outOfOrder struct {
	r     [maxOutOfOrderRanges]seqRange
	n     int
	bytes int // total bytes in the ranges
}

// add records [start, end) and reports how many new bytes it covered, or
// false if the table is full and the range could not be recorded.
func (o *outOfOrder) add(start, end Seq) (added int, ok bool) {
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
func (o *outOfOrder) takeFrom(next Seq) int {
	if o.n == 0 || o.r[0].start.GreaterThan(next) {
		return 0
	}
	first := o.r[0]
	copy(o.r[:], o.r[1:o.n])
	o.n--
	o.bytes -= int(first.end.Sub(first.start))
	if first.end.LessThanEq(next) {
		return 0
	}
	return int(first.end.Sub(next))
}

func (o *outOfOrder) reset() { o.n, o.bytes = 0, 0 }
