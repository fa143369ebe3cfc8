package tcp

import "encoding/binary"

// This file holds the Internet checksum (RFC 1071) used by TCP (RFC 9293
// section 3.1, "Checksum"). It is a local copy so that tcp does not wait for
// package ipv4; once ipv4 exports its checksum this should call that one.

// checksumAdd adds b, read as big-endian 16-bit words, to the running
// one's-complement sum acc and returns the new (unfolded) sum. A trailing odd
// byte is padded with a zero byte on its right, as RFC 1071 says. The sum is
// kept in 64 bits, adding 32-bit words, so carries are folded only once at
// the end; that is what makes it fast.
func checksumAdd(acc uint64, b []byte) uint64 {
	for len(b) >= 32 {
		acc += uint64(binary.BigEndian.Uint32(b[0:4]))
		acc += uint64(binary.BigEndian.Uint32(b[4:8]))
		acc += uint64(binary.BigEndian.Uint32(b[8:12]))
		acc += uint64(binary.BigEndian.Uint32(b[12:16]))
		acc += uint64(binary.BigEndian.Uint32(b[16:20]))
		acc += uint64(binary.BigEndian.Uint32(b[20:24]))
		acc += uint64(binary.BigEndian.Uint32(b[24:28]))
		acc += uint64(binary.BigEndian.Uint32(b[28:32]))
		b = b[32:]
	}
	for len(b) >= 4 {
		acc += uint64(binary.BigEndian.Uint32(b[0:4]))
		b = b[4:]
	}
	if len(b) >= 2 {
		acc += uint64(binary.BigEndian.Uint16(b[0:2]))
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint64(b[0]) << 8
	}
	return acc
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
