//go:build linux

package tun_test

import (
	"fmt"
	"log"

	"github.com/tundra-net/tundra/link"
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
