package tcp

import "github.com/tundra-net/tundra/ipv4"

// The TCP checksum (RFC 9293 section 3.1) is the Internet checksum (RFC
// 1071) over a pseudo-header and the segment. The arithmetic is package
// ipv4's (ipv4.Checksum, ipv4.PseudoHeaderChecksum, ipv4.Combine,
// ipv4.Fold); this file only says what TCP sums.

// pseudoHeaderSum is the partial sum of the IPv4 pseudo-header of RFC 9293
// section 3.1 (source, destination, zero, protocol 6, TCP length).
func pseudoHeaderSum(src, dst [4]byte, tcpLength int) uint32 {
	return ipv4.PseudoHeaderChecksum(ipv4.ProtocolTCP, src, dst, uint16(tcpLength))
}
