//go:build linux

package tun_test

import (
	"fmt"
	"log"

	"github.com/tundra-net/tundra/link"
	"github.com/tundra-net/tundra/link/gso"
	"github.com/tundra-net/tundra/link/tun"
)

// Open a TUN device and read packets in batches. The device needs an
// address and "ip link set tundra0 up" from outside, as root; in tests,
// netnstest.NS.OpenTUN does all of this inside a private namespace.
func ExampleOpen() {
	ep, err := tun.Open("tundra0", tun.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer ep.Close()
	fmt.Println(ep.Name(), "MTU", ep.MTU())

	batch := make([]link.Packet, 32)
	for i := range batch {
		batch[i].Data = make([]byte, 0, ep.MaxPacketSize())
	}
	for {
		n, err := ep.ReadPackets(batch) // one wake-up, up to 32 packets
		if err != nil {
			return // link.ErrClosed after Close
		}
		for _, p := range batch[:n] {
			fmt.Printf("IPv%d packet, %d bytes\n", p.Data[0]>>4, len(p.Data))
		}
	}
}

// Read with offloads on (the default): a TCP super-packet from the kernel
// comes as one packet of up to 64 KiB with GSOType set. A stack takes it
// as one large segment; a program that needs wire-sized packets, such as
// a forwarder, cuts it with gso.Split.
func ExampleEndpoint_Offloads() {
	ep, err := tun.Open("tundra0", tun.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer ep.Close()
	fmt.Printf("offloads %+v, reads need %d-byte buffers\n", ep.Offloads(), ep.MaxPacketSize())

	batch := make([]link.Packet, 16)
	for i := range batch {
		batch[i].Data = make([]byte, 0, ep.MaxPacketSize())
	}
	// Room for the segments of one super-packet: gso.Segments says how
	// many it makes; 64 covers 64 KiB at an MSS of 1024 or more.
	segments := make([]link.Packet, 64)
	for i := range segments {
		segments[i].Data = make([]byte, 0, ep.MTU())
	}
	n, err := ep.ReadPackets(batch)
	if err != nil {
		return
	}
	for _, p := range batch[:n] {
		if p.Offload.GSOType == link.GSONone {
			continue
		}
		k, err := gso.Split(p.Data, p.Offload, segments)
		if err != nil {
			log.Print(err)
			continue
		}
		fmt.Printf("%d-byte super-packet -> %d segments of at most %d payload bytes\n", len(p.Data), k, p.Offload.GSOSize)
	}
}
