package ipv4

import (
	"encoding/binary"
	"errors"
)

// MinMTU is the smallest MTU an IPv4 link may have: every host and router
// must forward a 68-byte datagram without fragmenting it (RFC 791 section
// 3.2), a 60-byte header and one 8-byte fragment of data.
const MinMTU = 68

// Errors NewFragmenter returns.
var (
	// ErrDontFragment: the datagram is larger than the MTU and has DF set.
	ErrDontFragment = errors.New("ipv4: datagram larger than the MTU has DF set")
	// ErrMTUTooSmall: the MTU is below MinMTU, or too small for the
	// datagram's header and 8 bytes of data.
	ErrMTUTooSmall = errors.New("ipv4: MTU too small to fragment into")
)

// Fragmenter cuts one datagram into fragments that each fit an MTU (RFC 791
// section 3.2, "Fragmentation"): every fragment carries a copy of the
// header with its own Total Length, Fragment Offset and More Fragments
// flag, and a piece of the data whose length is a multiple of 8 (but for
// the last one). Options whose copied flag is set go into every fragment;
// the others only into the first. Fragments are written one at a time into
// buffers the caller supplies, so fragmenting does not allocate.
type Fragmenter struct {
	h         Header
	mtu       int
	offset    int // next data byte of h's payload to send
	later     [MaxOptionsSize]byte
	laterSize int  // options of the fragments after the first, padded
	done      bool // every fragment written
}

// NewFragmenter prepares to cut h into fragments of at most mtu bytes. A
// datagram that fits is returned as one "fragment", unchanged. h may itself
// be a fragment (its offset and MF flag are honoured, as a router
// re-fragmenting it must).
func NewFragmenter(h Header, mtu int) (Fragmenter, error) {
	f := Fragmenter{h: h, mtu: mtu}
	if len(h.b) <= mtu {
		return f, nil
	}
	if h.DontFragment() {
		return Fragmenter{}, ErrDontFragment
	}
	f.laterSize = copiedOptions(h.Options(), f.later[:])
	if mtu < MinMTU || mtu-h.HeaderLength() < 8 || mtu-MinHeaderSize-f.laterSize < 8 {
		return Fragmenter{}, ErrMTUTooSmall
	}
	return f, nil
}

// copiedOptions writes into dst the options of opts whose copied flag (the
// top bit of the type, RFC 791 section 3.1) is set, padded with End of
// Option List bytes to a multiple of 4, and returns their length.
func copiedOptions(opts []byte, dst []byte) int {
	n := 0
	for i := 0; i < len(opts); {
		typ := opts[i]
		if typ == OptionEndOfList {
			break
		}
		if typ == OptionNoOperation {
			i++
			continue
		}
		if i+1 >= len(opts) || opts[i+1] < 2 || i+int(opts[i+1]) > len(opts) {
			break // malformed: copy nothing further
		}
		length := int(opts[i+1])
		if typ&0x80 != 0 {
			n += copy(dst[n:], opts[i:i+length])
		}
		i += length
	}
	for n%4 != 0 {
		dst[n] = OptionEndOfList
		n++
	}
	return n
}

// Done reports whether every fragment has been written.
func (f *Fragmenter) Done() bool { return f.done }

// Count returns how many fragments Next will write in all.
func (f *Fragmenter) Count() int {
	if len(f.h.b) <= f.mtu {
		return 1
	}
	first := (f.mtu - f.h.HeaderLength()) &^ 7
	rest := len(f.h.Payload()) - first
	if rest <= 0 {
		return 1
	}
	per := (f.mtu - MinHeaderSize - f.laterSize) &^ 7
	return 1 + (rest+per-1)/per
}

// Next writes the next fragment into dst, which needs room for the MTU, and
// returns its length; it returns 0 once every fragment has been written.
// Each fragment's header checksum is computed.
func (f *Fragmenter) Next(dst []byte) int {
	if f.done || f.h.b == nil {
		return 0
	}
	if len(f.h.b) <= f.mtu {
		f.done = true
		return copy(dst, f.h.b)
	}
	payload := f.h.Payload()
	var hdrLen int
	if f.offset == 0 {
		hdrLen = copy(dst, f.h.HeaderBytes())
	} else {
		hdrLen = copy(dst, f.h.b[:MinHeaderSize])
		copy(dst[MinHeaderSize:], f.later[:f.laterSize])
		hdrLen += f.laterSize
		dst[0] = Version<<4 | uint8(hdrLen/4)
	}
	n := min(len(payload)-f.offset, (f.mtu-hdrLen)&^7)
	copy(dst[hdrLen:], payload[f.offset:f.offset+n])
	last := f.offset+n == len(payload)
	// RFC 791: the fragment offset adds to the original's (a fragment of a
	// fragment), and MF stays set on the last piece if it was set on the
	// whole.
	offset := f.h.FragmentOffset() + f.offset
	flags := f.h.Flags() &^ MoreFragments
	if !last || f.h.MoreFragments() {
		flags |= MoreFragments
	}
	binary.BigEndian.PutUint16(dst[2:4], uint16(hdrLen+n))
	binary.BigEndian.PutUint16(dst[6:8], uint16(flags)<<13|uint16(offset/8))
	dst[10], dst[11] = 0, 0
	binary.BigEndian.PutUint16(dst[10:12], Fold(Checksum(dst[:hdrLen], 0)))
	f.offset += n
	f.done = last
	return hdrLen + n
}
