package stack_test

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/tundra-net/tundra/link/pipe"
	"github.com/tundra-net/tundra/stack"
)

// exampleHosts returns two stacks joined by an in-memory link: 198.18.0.1
// and 198.18.0.2.
func exampleHosts() (*stack.Stack, *stack.Stack) { return exampleHostsWith(stack.Options{}) }

// exampleHostsWith is exampleHosts with options for B (its address is set
// here).
func exampleHostsWith(optsB stack.Options) (*stack.Stack, *stack.Stack) {
	ea, eb := pipe.New(pipe.Options{})
	a, err := stack.New(ea, stack.Options{Addresses: []netip.Addr{netip.MustParseAddr("198.18.0.1")}})
	if err != nil {
		panic(err)
	}
	optsB.Addresses = []netip.Addr{netip.MustParseAddr("198.18.0.2")}
	b, err := stack.New(eb, optsB)
	if err != nil {
		panic(err)
	}
	return a, b
}

// A UDP echo server on one stack, and a client on the other that sends a
// datagram too large for the link: it leaves in fragments and comes back
// whole.
func ExampleStack_ListenPacket() {
	a, b := exampleHosts()
	defer a.Close()
	defer b.Close()

	pc, err := b.ListenPacket("udp", ":7")
	if err != nil {
		panic(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from)
		}
	}()

	c, err := a.Dial("udp", "198.18.0.2:7")
	if err != nil {
		panic(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	c.Write(make([]byte, 20000))
	n, err := c.Read(make([]byte, 65536))
	fmt.Println(n, err, a.Stats().IP.FragCreates)
	// Output: 20000 <nil> 14
}

// A datagram to a port where nobody listens draws ICMP port unreachable,
// which a connected socket reports as "connection refused".
func ExampleStack_DialUDP() {
	a, b := exampleHosts()
	defer a.Close()
	defer b.Close()

	c, err := a.DialUDP(netip.MustParseAddrPort("198.18.0.2:9999"))
	if err != nil {
		panic(err)
	}
	defer c.Close()
	c.Write([]byte("anyone there?"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Read(make([]byte, 100))
	var opErr *net.OpError
	fmt.Println(errors.Is(err, syscall.ECONNREFUSED), errors.As(err, &opErr) && opErr.Op == "read")
	// Output: true true
}
