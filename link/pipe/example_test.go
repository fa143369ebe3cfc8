package pipe_test

import (
	"fmt"

	"github.com/tundra-net/tundra/link"
	"github.com/tundra-net/tundra/link/pipe"
)

// Two endpoints joined in memory: a packet written on one is read on the
// other.
func ExampleNew() {
	a, b := pipe.New(pipe.Options{MTU: 1500, QueueLen: 64})
	defer a.Close()
	defer b.Close()

	// A 20-byte IPv4 header alone stands in for a packet here.
	hdr := []byte{0x45, 0, 0, 20, 0, 0, 0x40, 0, 64, 17, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2}
	a.WritePackets([]link.Packet{{Data: hdr}})

	in := []link.Packet{{Data: make([]byte, 0, b.MaxPacketSize())}}
	n, err := b.ReadPackets(in)
	fmt.Println(n, err, len(in[0].Data), in[0].Data[16:20])
	fmt.Printf("%+v\n", a.Stats())
	// Output:
	// 1 <nil> 20 [198 18 0 2]
	// {Sent:1 Dropped:0 Delivered:0}
}

// PollPackets never blocks, which suits tests that move packets one step
// at a time.
func ExampleEndpoint_PollPackets() {
	a, b := pipe.New(pipe.Options{})
	in := []link.Packet{{Data: make([]byte, 0, b.MaxPacketSize())}}

	n, _ := b.PollPackets(in)
	fmt.Println("before:", n, b.Pending())
	a.WritePackets([]link.Packet{{Data: []byte{0x45}}, {Data: []byte{0x45}}})
	fmt.Println("queued:", b.Pending())
	n, _ = b.PollPackets(in)
	fmt.Println("read:", n, "left:", b.Pending())
	// Output:
	// before: 0 0
	// queued: 2
	// read: 1 left: 1
}

// A link.Poller is read in two steps, which is how the stack's pump and
// its busy-polling readers share one link: take what is queued, and wait
// (without taking anything) only when nothing was.
func ExampleEndpoint_WaitPackets() {
	a, b := pipe.New(pipe.Options{})
	var p link.Poller = b
	go a.WritePackets([]link.Packet{{Data: []byte{0x45, 1}}, {Data: []byte{0x45, 2}}, {Data: []byte{0x45, 3}}})

	in := make([]link.Packet, 2)
	for i := range in {
		in[i].Data = make([]byte, 0, b.MaxPacketSize())
	}
	for got := 0; got < 3; {
		n, err := p.PollPackets(in)
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, pkt := range in[:n] {
			fmt.Println("packet", pkt.Data[1])
		}
		got += n
		if n == 0 {
			p.WaitPackets() // nothing queued: sleep until something is
		}
	}
	b.Close()
	fmt.Println(p.WaitPackets())
	// Output:
	// packet 1
	// packet 2
	// packet 3
	// link: endpoint closed
}
