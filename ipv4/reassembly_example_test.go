package ipv4_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/tundra-net/tundra/ipv4"
)

// Cut a 4000-byte datagram into fragments for a 1500-byte link, then put
// it back together, fragments arriving last first.
func ExampleFragmenter() {
	fields := ipv4.HeaderFields{ID: 42, TTL: 64, Protocol: ipv4.ProtocolUDP,
		Src: netip.MustParseAddr("198.18.0.1"), Dst: netip.MustParseAddr("198.18.0.2"), PayloadLength: 4000}
	datagram := make([]byte, fields.Size()+4000)
	fields.Encode(datagram)
	h, _ := ipv4.ParseHeader(datagram)

	f, err := ipv4.NewFragmenter(h, 1500)
	if err != nil {
		panic(err)
	}
	var fragments [][]byte
	for !f.Done() {
		b := make([]byte, 1500)
		n := f.Next(b)
		fragments = append(fragments, b[:n])
		fh, _ := ipv4.ParseHeader(b[:n])
		fmt.Println(len(b[:n]), "bytes, offset", fh.FragmentOffset(), "MF", fh.MoreFragments())
	}

	r := ipv4.NewReassembler(ipv4.ReassemblyLimits{})
	now := time.Now()
	for i := len(fragments) - 1; i >= 0; i-- {
		fh, _ := ipv4.ParseHeader(fragments[i])
		whole, res := r.Add(fh, now)
		fmt.Println(res.Outcome, len(whole))
	}
	// Output:
	// 1500 bytes, offset 0 MF true
	// 1500 bytes, offset 1480 MF true
	// 1060 bytes, offset 2960 MF false
	// fragment held 0
	// fragment held 0
	// datagram complete 4020
}

// A datagram whose last fragment never comes is given up after the
// timeout; Expire hands back its first fragment, to quote in an ICMP time
// exceeded message.
func ExampleReassembler_Expire() {
	fields := ipv4.HeaderFields{ID: 7, TTL: 64, Protocol: ipv4.ProtocolUDP, Flags: ipv4.MoreFragments,
		Src: netip.MustParseAddr("198.18.0.1"), Dst: netip.MustParseAddr("198.18.0.2"), PayloadLength: 16}
	first := make([]byte, fields.Size()+16)
	fields.Encode(first)
	h, _ := ipv4.ParseHeader(first)

	r := ipv4.NewReassembler(ipv4.ReassemblyLimits{Timeout: 30 * time.Second})
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r.Add(h, start)
	deadline, _ := r.NextDeadline()
	fmt.Println("expires after", deadline.Sub(start))
	n := r.Expire(deadline, func(quote ipv4.Header) {
		fmt.Println("time exceeded for datagram", quote.ID(), "quoting", len(quote.Bytes()), "bytes")
	})
	fmt.Println(n, "expired,", r.Pending(), "pending")
	// Output:
	// expires after 30s
	// time exceeded for datagram 7 quoting 28 bytes
	// 1 expired, 0 pending
}
