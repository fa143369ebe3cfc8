package pcap_test

import (
	"bytes"
	"fmt"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/tundra-net/tundra/clock"
	"github.com/tundra-net/tundra/link"
	"github.com/tundra-net/tundra/link/pcap"
	"github.com/tundra-net/tundra/link/pipe"
)

// A tee on our end of a link records both directions, and why the stack
// dropped what it dropped. Open the result with "wireshark capture.pcapng";
// here it is read back with pcapgo.
func ExampleNewTee() {
	ours, theirs := pipe.New(pipe.Options{})
	var capture bytes.Buffer // usually an *os.File
	clk := clock.NewVirtual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	tee, err := pcap.NewTee(ours, &capture, pcap.Options{Clock: clk})
	if err != nil {
		panic(err)
	}

	// Bare 20-byte IPv4 headers stand in for real packets.
	ping := []byte{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 1, 0, 0, 198, 18, 0, 2, 198, 18, 0, 1}
	junk := []byte{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 1, 0xde, 0xad, 198, 18, 0, 1, 198, 18, 0, 2}

	tee.WritePackets([]link.Packet{{Data: ping}}) // outbound
	theirs.WritePackets([]link.Packet{{Data: junk}})
	in := []link.Packet{{Data: make([]byte, 0, tee.MaxPacketSize())}}
	tee.ReadPackets(in) // inbound, held until the stack's verdict
	tee.PacketDropped(in[0].Data, "bad IPv4 header checksum")
	tee.Close() // writes what is held and flushes

	r, _ := pcapgo.NewNgReader(&capture, pcapgo.DefaultNgReaderOptions)
	fmt.Println("link type:", r.LinkType())
	for {
		data, _, opts, err := r.ReadPacketDataWithOptions()
		if err != nil {
			break
		}
		dir := "in "
		if opts.Flags.Direction == pcapgo.NgEpbFlagDirectionOutbound {
			dir = "out"
		}
		fmt.Println(dir, len(data), "bytes", opts.Comments)
	}
	// Output:
	// link type: Raw
	// out 20 bytes []
	// in  20 bytes [dropped by tundra: bad IPv4 header checksum]
}
