package tcp

// Seq is a TCP sequence number: a 32-bit counter that wraps around. Compare
// two of them only with the methods below, which use serial-number
// arithmetic (RFC 1982; RFC 9293 section 3.4): a is "less than" b when b is
// ahead of a by less than 2^31. Plain < on Seq is wrong across the wrap.
type Seq uint32

// LessThan reports whether s comes before t.
func (s Seq) LessThan(t Seq) bool { return int32(s-t) < 0 }

// LessThanEq reports whether s comes before t or equals it.
func (s Seq) LessThanEq(t Seq) bool { return int32(s-t) <= 0 }

// GreaterThan reports whether s comes after t.
func (s Seq) GreaterThan(t Seq) bool { return int32(s-t) > 0 }

// GreaterThanEq reports whether s comes after t or equals it.
func (s Seq) GreaterThanEq(t Seq) bool { return int32(s-t) >= 0 }

// Add returns s advanced by n octets, wrapping around.
func (s Seq) Add(n uint32) Seq { return s + Seq(n) }

// Sub returns how many octets s is ahead of t (s - t modulo 2^32). It is the
// size of the range [t, s) when t <= s.
func (s Seq) Sub(t Seq) uint32 { return uint32(s - t) }

// InRange reports whether lo <= s < hi, in sequence space. An empty range
// (lo == hi) contains nothing.
func (s Seq) InRange(lo, hi Seq) bool { return s.Sub(lo) < hi.Sub(lo) }

// InWindow reports whether s lies in the window of size octets starting at
// start: start <= s < start+size. A window of size 0 contains nothing.
func (s Seq) InWindow(start Seq, size uint32) bool { return s.Sub(start) < size }

// MaxSeq returns the later of a and b.
func MaxSeq(a, b Seq) Seq {
	if a.LessThan(b) {
		return b
	}
	return a
}

// MinSeq returns the earlier of a and b.
func MinSeq(a, b Seq) Seq {
	if a.LessThan(b) {
		return a
	}
	return b
}
