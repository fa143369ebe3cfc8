package ipv4_test

import (
	"encoding/hex"
	"fmt"
	"net/netip"

	"github.com/tundra-net/tundra/ipv4"
)

// Parse a packet as it arrives from a TUN: check the header, then its
// checksum, then hand the payload to the protocol it names.
func ExampleParseHeader() {
	// An echo reply the Linux kernel sent (captured in a test namespace).
	packet, _ := hex.DecodeString("4500003f37c000004001b6d6c6120001c6120002" +
		"000006bd0bad000174756e64726120676f6c64656e2070696e672030313233343536373839616263646566")

	h, err := ipv4.ParseHeader(packet)
	if err != nil {
		fmt.Println("malformed:", err)
		return
	}
	if !h.ChecksumValid() {
		fmt.Println("bad header checksum")
		return
	}
	fmt.Println(h)
	fmt.Println("payload bytes:", len(h.Payload()))

	if h.Protocol() == ipv4.ProtocolICMP {
		m, err := ipv4.ParseICMP(h.Payload())
		if err == nil && m.ChecksumValid() {
			fmt.Println(m)
		}
	}
	// Output:
	// 198.18.0.1 > 198.18.0.2: ICMP ttl 64 id 14272 len 63
	// payload bytes: 43
	// echo reply id 2989 seq 1, 35 bytes
}

// Build a packet: reserve room for the header, write the payload behind it,
// then encode the header, which computes the checksum.
func ExampleHeaderFields_Encode() {
	payload := []byte("hello")
	f := ipv4.HeaderFields{
		ID:            1,
		Flags:         ipv4.DontFragment,
		TTL:           ipv4.DefaultTTL,
		Protocol:      ipv4.ProtocolUDP,
		Src:           netip.MustParseAddr("198.18.0.1"),
		Dst:           netip.MustParseAddr("198.18.0.2"),
		PayloadLength: len(payload),
	}
	packet := make([]byte, f.Size()+len(payload))
	n := f.Encode(packet)
	copy(packet[n:], payload)

	fmt.Printf("% x\n", packet[:n])
	h, _ := ipv4.ParseHeader(packet)
	fmt.Println(h, "checksum ok:", h.ChecksumValid())
	// Output:
	// 45 00 00 19 00 01 40 00 40 11 ae ab c6 12 00 01 c6 12 00 02
	// 198.18.0.1 > 198.18.0.2: UDP ttl 64 id 1 len 25 DF checksum ok: true
}

// The checksum in pieces, as TCP and UDP use it: start with the
// pseudo-header, continue over the segment, fold at the end.
func ExampleChecksum() {
	// RFC 1071 section 3's example bytes sum to 0xddf2; the checksum field
	// holds its complement.
	data := []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}
	fmt.Printf("sum %#04x, checksum %#04x\n", ipv4.Checksum(data, 0), ipv4.Fold(ipv4.Checksum(data, 0)))

	// A UDP datagram (RFC 768): header with a zero checksum field, then data.
	src, dst := [4]byte{198, 18, 0, 1}, [4]byte{198, 18, 0, 2}
	udp := []byte{0x30, 0x39, 0x00, 0x07, 0x00, 0x0d, 0x00, 0x00, 'h', 'e', 'l', 'l', 'o'}
	sum := ipv4.PseudoHeaderChecksum(ipv4.ProtocolUDP, src, dst, uint16(len(udp)))
	sum = ipv4.Checksum(udp, sum)
	fmt.Printf("UDP checksum %#04x\n", ipv4.Fold(sum))
	// Output:
	// sum 0xddf2, checksum 0x220d
	// UDP checksum 0xff99
}

// Change one field and fix the checksum without summing the header again
// (RFC 1624), as a router does with the TTL.
func ExampleUpdateChecksum16() {
	header, _ := hex.DecodeString("4500003cdd8640004006d10dc6120001c6120002")
	h, _ := ipv4.ParseHeader(append(header, make([]byte, 40)...))
	h.SetTTL(h.TTL() - 1) // uses UpdateChecksum16 on the TTL/protocol word
	fmt.Printf("ttl %d checksum %#04x valid %v\n", h.TTL(), h.Checksum(), h.ChecksumValid())
	// Output:
	// ttl 63 checksum 0xd20d valid true
}

// Answer a ping in place: the request's bytes become the reply.
func ExampleBuildEchoReply() {
	request := make([]byte, 8+4)
	ipv4.BuildEchoRequest(request, 0x1234, 7, []byte("ping"))
	m, _ := ipv4.ParseICMP(request)
	fmt.Println(m)

	n := ipv4.BuildEchoReply(request, m)
	reply, _ := ipv4.ParseICMP(request[:n])
	fmt.Println(reply, "checksum ok:", reply.ChecksumValid())
	// Output:
	// echo request id 4660 seq 7, 4 bytes
	// echo reply id 4660 seq 7, 4 bytes checksum ok: true
}

// Tell the sender of a UDP datagram to a closed port, as RFC 1122 section
// 4.1.3.1 asks, and read the error back as the sender would.
func ExampleBuildDestinationUnreachable() {
	offending, _ := hex.DecodeString("450000221234400040119c6fc6120002c6120001" +
		"9c400009000e000068656c6c6f3f")
	h, _ := ipv4.ParseHeader(offending)
	if !ipv4.ErrorAllowed(h) {
		return
	}
	msg := make([]byte, ipv4.ICMPErrorSize(h.Bytes()))
	n := ipv4.BuildDestinationUnreachable(msg, ipv4.UnreachablePort, h.Bytes())

	m, _ := ipv4.ParseICMP(msg[:n])
	quoted, _ := m.Quoted()
	fmt.Println(m)
	fmt.Println("about:", quoted)
	// Output:
	// destination unreachable (port unreachable)
	// about: 198.18.0.2 > 198.18.0.1: UDP ttl 64 id 4660 len 34 DF
}
