package ipv4

import (
	"encoding/binary"
	"math/bits"
)

// The Internet checksum (RFC 1071) is the 16-bit one's complement of the one's
// complement sum of the data taken as big-endian 16-bit words, with a zero
// byte appended when the length is odd. IPv4, ICMP, TCP and UDP all use it.
// The work is split in two steps so that a sum can be built from pieces:
// Checksum returns a partial sum (a uint32, always folded to at most 0xffff,
// so partial sums can also be added and folded once), and Fold turns the
// final partial sum into the value of a checksum field. The package
// documentation shows the pattern.

// Checksum adds the bytes of b, as big-endian 16-bit words, to the partial sum
// initial in one's complement arithmetic, and returns the new partial sum,
// folded into 16 bits (at most 0xffff). If len(b) is odd its last byte is
// taken as the high byte of a word whose low byte is zero (RFC 1071 section
// 4.1). Pass 0 as initial to start a new sum; pass the result to Fold to get
// the value written into a checksum field. Checksum does not allocate.
//
// Implementation notes (RFC 1071 section 2): one's complement addition is
// commutative and associative, so words may be added in any order and in any
// width, as long as every carry out of the top is added back in at the bottom
// ("end-around carry"). Checksum therefore adds 8 bytes at a time into a
// uint64, carrying with bits.Add64 (an ADD/ADC chain on amd64 and arm64), with
// the loop unrolled eight times. It is also byte-order independent (section
// 2(B)): it loads words in little-endian order, the native order of amd64
// and arm64, which costs no byte swap per load, and swaps the final 16-bit
// result once. (The result is the same on any machine; only the speed is
// tuned for little-endian ones.)
func Checksum(b []byte, initial uint32) uint32 {
	var sum, carry uint64

	// 64 bytes per iteration: eight 8-byte additions. The carry out of one
	// addition is fed into the next, across iterations too, so no carry is
	// ever lost. (Unrolling to 64 rather than 32 bytes is 25% faster.)
	for len(b) >= 64 {
		sum, carry = bits.Add64(sum, binary.LittleEndian.Uint64(b[0:8]), carry)
		sum, carry = bits.Add64(sum, binary.LittleEndian.Uint64(b[8:16]), carry)
		sum, carry = bits.Add64(sum, binary.LittleEndian.Uint64(b[16:24]), carry)
		sum, carry = bits.Add64(sum, binary.LittleEndian.Uint64(b[24:32]), carry)
		sum, carry = bits.Add64(sum, binary.LittleEndian.Uint64(b[32:40]), carry)
		sum, carry = bits.Add64(sum, binary.LittleEndian.Uint64(b[40:48]), carry)
		sum, carry = bits.Add64(sum, binary.LittleEndian.Uint64(b[48:56]), carry)
		sum, carry = bits.Add64(sum, binary.LittleEndian.Uint64(b[56:64]), carry)
		b = b[64:]
	}
	// At most 63 bytes remain: take 32, 16, 8, 4 and 2 bytes as needed.
	// Each piece starts at an even offset, so its bytes keep their place in
	// the 16-bit words.
	if len(b) >= 32 {
		sum, carry = bits.Add64(sum, binary.LittleEndian.Uint64(b[0:8]), carry)
		sum, carry = bits.Add64(sum, binary.LittleEndian.Uint64(b[8:16]), carry)
		sum, carry = bits.Add64(sum, binary.LittleEndian.Uint64(b[16:24]), carry)
		sum, carry = bits.Add64(sum, binary.LittleEndian.Uint64(b[24:32]), carry)
		b = b[32:]
	}
	if len(b) >= 16 {
		sum, carry = bits.Add64(sum, binary.LittleEndian.Uint64(b[0:8]), carry)
		sum, carry = bits.Add64(sum, binary.LittleEndian.Uint64(b[8:16]), carry)
		b = b[16:]
	}
	if len(b) >= 8 {
		sum, carry = bits.Add64(sum, binary.LittleEndian.Uint64(b[0:8]), carry)
		b = b[8:]
	}
	if len(b) >= 4 {
		sum, carry = bits.Add64(sum, uint64(binary.LittleEndian.Uint32(b[0:4])), carry)
		b = b[4:]
	}
	if len(b) >= 2 {
		sum, carry = bits.Add64(sum, uint64(binary.LittleEndian.Uint16(b[0:2])), carry)
		b = b[2:]
	}
	if len(b) == 1 {
		// The odd byte is the high byte of its big-endian word, which is
		// the low byte in the little-endian view used until the final swap.
		sum, carry = bits.Add64(sum, uint64(b[0]), carry)
	}
	// End-around carry: the last carry out goes back in at the bottom. This
	// cannot carry out again (if sum was all ones, it becomes zero).
	sum, carry = bits.Add64(sum, carry, 0)
	sum += carry

	// Fold 64 bits to 16, then undo the little-endian view by swapping the
	// two bytes: the sum of byte-swapped words is the byte-swapped sum.
	folded := bits.ReverseBytes16(fold64(sum))
	return uint32(fold64(uint64(folded) + uint64(initial)))
}

// Fold folds a partial sum into 16 bits and returns its one's complement: the
// value to write into a checksum field (RFC 1071 section 4.1). A receiver that
// sums a whole message, checksum field included, gets Fold(sum) == 0 when the
// message is intact.
func Fold(sum uint32) uint16 {
	return ^fold64(uint64(sum))
}

// Combine returns the partial sum of two adjacent pieces of data, given the
// partial sum of the first piece, the partial sum of the second (each as
// Checksum returns it, starting from 0), and the length of the first. When
// that length is odd, the second piece starts in the low byte of a 16-bit
// word, so its sum is byte-swapped before it is added (RFC 1071 section
// 2(B)). For an even length Combine is plain one's complement addition.
func Combine(first, second uint32, firstLength int) uint32 {
	s := fold64(uint64(second))
	if firstLength%2 != 0 {
		s = bits.ReverseBytes16(s)
	}
	return uint32(fold64(uint64(first) + uint64(s)))
}

// PseudoHeaderChecksum returns the partial sum of the IPv4 pseudo-header that
// TCP (RFC 9293 section 3.1) and UDP (RFC 768) include in their checksums:
// source address, destination address, a zero byte, the protocol number, and
// the length of the TCP or UDP header plus data. Continue the sum with
// Checksum over the transport header and payload, then Fold it.
func PseudoHeaderChecksum(protocol Protocol, src, dst [4]byte, length uint16) uint32 {
	sum := uint64(binary.BigEndian.Uint16(src[0:2])) +
		uint64(binary.BigEndian.Uint16(src[2:4])) +
		uint64(binary.BigEndian.Uint16(dst[0:2])) +
		uint64(binary.BigEndian.Uint16(dst[2:4])) +
		uint64(protocol) +
		uint64(length)
	return uint32(fold64(sum))
}

// UpdateChecksum16 returns a checksum field's new value after a 16-bit word
// of the covered data changed from oldValue to newValue, without summing the data
// again. It is RFC 1624 equation 3, HC' = ~(~HC + ~m + m'), which, unlike
// the older RFC 1141 formula, gives exactly what a full recomputation gives.
// The word must sit at an even offset from the start of the checksummed data
// (every header field the stack rewrites does).
func UpdateChecksum16(checksum, oldValue, newValue uint16) uint16 {
	sum := uint64(^checksum) + uint64(^oldValue) + uint64(newValue)
	return ^fold64(sum)
}

// UpdateChecksum32 is UpdateChecksum16 for a 32-bit field, such as an IPv4
// address or a TCP sequence number, at an even offset: both of its 16-bit
// halves are updated at once.
func UpdateChecksum32(checksum uint16, oldValue, newValue uint32) uint16 {
	sum := uint64(^checksum) +
		uint64(^uint16(oldValue>>16)) + uint64(^uint16(oldValue)) +
		uint64(uint16(newValue>>16)) + uint64(uint16(newValue))
	return ^fold64(sum)
}

// fold64 adds the four 16-bit parts of sum with end-around carry and returns
// the 16-bit one's complement sum. It never returns 0 for a nonzero sum
// (0xffff is one's complement "negative zero").
func fold64(sum uint64) uint16 {
	// 64 bits to 32: add the halves and add the carry back in. That cannot
	// carry again: with a carry out, the low result is at most 2^32-2.
	s, carry := bits.Add32(uint32(sum), uint32(sum>>32), 0)
	s += carry
	// 32 bits to 16, the trick of Linux's csum_fold: in s + (s rotated by
	// 16), the top half is high + low + the carry out of the bottom half's
	// low + high, which is exactly the end-around-carry sum of the halves.
	return uint16((s + bits.RotateLeft32(s, 16)) >> 16)
}
