package gso_test

import (
	"encoding/binary"
	"fmt"
	"log"

	"github.com/tundra-net/tundra/link"
	"github.com/tundra-net/tundra/link/gso"
)

// Cut a 4000-byte TCP super-packet into segments of at most 1460 payload
// bytes, for an endpoint without TSO.
func ExampleSplit() {
	super := make([]byte, 20+20+4000)
	super[0], super[8], super[9] = 0x45, 64, 6 // IPv4, TTL 64, TCP
	binary.BigEndian.PutUint16(super[2:], uint16(len(super)))
	copy(super[12:], []byte{198, 18, 0, 2, 198, 18, 0, 1})
	tcp := super[20:]
	binary.BigEndian.PutUint32(tcp[4:], 1000) // sequence number
	tcp[12], tcp[13] = 5<<4, 0x18             // data offset 5 words, PSH|ACK

	segments := make([]link.Packet, 3)
	for i := range segments {
		segments[i].Data = make([]byte, 0, 1500)
	}
	off := link.Offload{GSOType: link.GSOTCPv4, GSOSize: 1460}
	n, err := gso.Split(super, off, segments)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range segments[:n] {
		fmt.Printf("%d bytes, seq %d, flags %#02x\n", len(s.Data),
			binary.BigEndian.Uint32(s.Data[24:]), s.Data[33])
	}
	// Output:
	// 1500 bytes, seq 1000, flags 0x10
	// 1500 bytes, seq 2460, flags 0x10
	// 1120 bytes, seq 3920, flags 0x18
}

// Leave a TCP checksum to the other side: SetPartialChecksum writes the
// pseudo-header sum and returns the metadata; CompleteChecksum is what the
// receiver (or a device) does with it.
func ExampleSetPartialChecksum() {
	pkt := make([]byte, 20+20+5)
	pkt[0], pkt[8], pkt[9] = 0x45, 64, 6
	binary.BigEndian.PutUint16(pkt[2:], uint16(len(pkt)))
	copy(pkt[12:], []byte{198, 18, 0, 2, 198, 18, 0, 1})
	pkt[32] = 5 << 4
	copy(pkt[40:], "hello")

	off, err := gso.SetPartialChecksum(pkt)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("start %d offset %d, pseudo-header sum %#04x\n", off.ChecksumStart, off.ChecksumOffset, binary.BigEndian.Uint16(pkt[36:]))
	if err := gso.CompleteChecksum(pkt, off); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("checksum %#04x\n", binary.BigEndian.Uint16(pkt[36:]))
	// Output:
	// start 20 offset 16, pseudo-header sum 0x8c47
	// checksum 0xdfe5
}
