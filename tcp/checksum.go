package tcp

import (
	"encoding/binary"
	"math/bits"
)

// This file holds the Internet checksum (RFC 1071) used by TCP (RFC 9293
// section 3.1, "Checksum"). It is a local copy so that tcp did not wait for
// package ipv4; it should move to ipv4's checksum once both settle.

// checksumAdd adds b, read as big-endian 16-bit words, to the running
// one's-complement sum acc and returns the new (unfolded) sum. A trailing odd
// byte is padded with a zero byte on its right, as RFC 1071 says.
//
// It is fast because of two properties RFC 1071 section 2 points out. The
// sum can be computed on 64-bit words with end-around carry (2^64 and 2^16
// are both 1 modulo 2^16-1), and it is byte-order independent: summing
// little-endian words gives the byte-swapped result. So the loop adds
// native 64-bit loads with carry and swaps once at the end.
func checksumAdd(acc uint64, b []byte) uint64 {
	var sum, carry uint64
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
	for len(b) >= 8 {
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
		sum, carry = bits.Add64(sum, uint64(b[0]), carry)
	}
	sum, carry = bits.Add64(sum, 0, carry)
	sum += carry
	folded := checksumFold(sum)
	return acc + uint64(bits.ReverseBytes16(folded))
}

// checksumFold folds a 64-bit running sum into 16 bits with end-around carry.
func checksumFold(acc uint64) uint16 {
	acc = (acc >> 32) + (acc & 0xffffffff)
	acc = (acc >> 32) + (acc & 0xffffffff)
	acc = (acc >> 16) + (acc & 0xffff)
	acc = (acc >> 16) + (acc & 0xffff)
	return uint16(acc)
}

// pseudoHeaderAdd adds the IPv4 pseudo-header of RFC 9293 section 3.1
// (source, destination, zero, protocol 6, TCP length) to acc.
func pseudoHeaderAdd(acc uint64, src, dst [4]byte, tcpLength int) uint64 {
	acc += uint64(binary.BigEndian.Uint32(src[:]))
	acc += uint64(binary.BigEndian.Uint32(dst[:]))
	acc += uint64(ProtocolNumber)
	acc += uint64(tcpLength)
	return acc
}
