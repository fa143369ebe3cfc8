// Package ipv4 reads and writes the bytes of IPv4 (RFC 791) and ICMPv4
// (RFC 792) packets, and computes the Internet checksum (RFC 1071) that
// IPv4, ICMP, TCP and UDP share. It is the layer of tundra that sits just
// above the link: every packet the TUN hands the stack starts with an IPv4
// header, and the stack reads that header here to decide what to do next.
//
// What IPv4 does, in the stack. IPv4 carries a payload (a TCP segment, a
// UDP datagram, an ICMP message) from one address to another, and its
// 20-byte header (plus up to 40 bytes of options) says how:
//
//   - Addressing. Source and Destination are 32-bit addresses. The stack
//     accepts packets whose destination is one of its addresses and answers
//     to their source; TCP and UDP fold both addresses into their own
//     checksums through a "pseudo-header" (PseudoHeaderChecksum).
//   - Protocol. The Protocol field names the payload's protocol (1 ICMP,
//     6 TCP, 17 UDP), the first step of demultiplexing.
//   - Time to live. TTL counts down at each router; at zero the packet is
//     dropped and the sender told with ICMP "time exceeded". It is what
//     stops a packet from looping forever, and what traceroute measures.
//     The stack sends with DefaultTTL (64).
//   - Fragmentation. A packet too big for a link can be cut into fragments
//     that share an Identification; each carries its Fragment Offset and the
//     More Fragments (MF) flag, except the last. Don't Fragment (DF) asks
//     routers to drop a too-big packet instead and send ICMP "fragmentation
//     needed" with the next hop's MTU: that is path MTU discovery
//     (RFC 1191), which TCP uses so that it never has to fragment. This
//     package reads and writes the fields; reassembly is separate.
//   - The header checksum. A 16-bit one's complement checksum over the
//     header only (not the payload) catches corruption of the fields that
//     decide where a packet goes. A router rewrites it at every hop because
//     the TTL changes, which is why an incremental update (RFC 1624) exists.
//
// How the code is shaped. Parsing never copies: ParseHeader and ParseICMP
// check lengths once and return views (Header, ICMP) whose accessors read
// straight from the packet's bytes and cannot go out of range; malformed
// input gets a distinct error per reason so that the stack can count each.
// Building is separate: HeaderFields.Encode writes a header with its
// checksum, and the Build functions write ICMP messages. Neither parsing nor
// building allocates.
//
// Checksums in pieces. Checksum returns a partial sum, not a finished
// checksum, so that a sum can run over pieces that are not contiguous in
// memory, as TCP's does (pseudo-header, header, payload):
//
//	sum := ipv4.PseudoHeaderChecksum(ipv4.ProtocolTCP, src, dst, length)
//	sum = ipv4.Checksum(tcpHeader, sum)
//	sum = ipv4.Checksum(payload, sum)
//	checksumField := ipv4.Fold(sum)
//
// Every piece but the last must have an even length; otherwise sum the
// pieces apart and join them with Combine. A receiver sums everything,
// checksum field included, and checks that Fold gives 0.
package ipv4
