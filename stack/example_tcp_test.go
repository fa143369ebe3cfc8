package stack_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"

	"github.com/tundra-net/tundra/stack"
)

// Two hosts on an in-memory link: one listens, the other dials, and they
// talk through ordinary net.Conn values. On a real TUN, only the endpoint
// passed to stack.New changes (see stack.AttachTUN).
func ExampleStack_Listen() {
	a, b := exampleHosts()
	defer a.Close()
	defer b.Close()

	l, err := b.Listen("tcp", ":7")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		io.Copy(c, c) // echo until the peer's FIN
		c.Close()
	}()

	c, err := a.Dial("tcp", "198.18.0.2:7")
	if err != nil {
		panic(err)
	}
	c.Write([]byte("hello, tundra"))
	c.(*stack.TCPConn).CloseWrite() // half-close: our FIN, the echo goes on
	reply, _ := io.ReadAll(c)
	c.Close()
	fmt.Printf("%s (state %v)\n", reply, c.(*stack.TCPConn).State())
	// Output: hello, tundra (state TIME-WAIT)
}

// A VPN-style forwarder: B takes connections to any address, and the
// handler decides per SYN. It accepts port 80 and refuses the rest, as a
// closed port would.
func ExampleOptions_tcpForwarder() {
	a, b := exampleHostsWith(stack.Options{
		AcceptAnyDestination: true,
		TCPForwarder: func(r *stack.TCPForwardRequest) {
			if r.LocalAddr().Port() != 80 {
				r.Refuse()
				return
			}
			c, err := r.Accept(context.Background())
			if err != nil {
				return
			}
			fmt.Fprintf(c, "you reached %v\n", r.LocalAddr())
			c.Close()
		},
	})
	defer a.Close()
	defer b.Close()

	c, err := a.Dial("tcp", "198.19.55.1:80") // not B's own address
	if err != nil {
		panic(err)
	}
	msg, _ := io.ReadAll(c)
	c.Close()
	fmt.Print(string(msg))
	_, err = a.Dial("tcp", "198.19.55.1:81")
	fmt.Println("port 81 refused:", errors.Is(err, syscall.ECONNREFUSED))
	// Output:
	// you reached 198.19.55.1:80
	// port 81 refused: true
}

// Busy polling (Options.BusyPoll) is on by default: a reader in use
// watches for its next data, and reads the link itself, before it parks.
// A host that counts CPU time or power turns it off with a negative
// budget; readers then always park, and the pump alone reads the link.
func ExampleOptions_busyPollOff() {
	a, b := exampleHostsWith(stack.Options{BusyPoll: -1})
	defer a.Close()
	defer b.Close()

	l, err := b.Listen("tcp", ":7")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		io.Copy(c, c)
		c.Close()
	}()
	c, err := a.Dial("tcp", "198.18.0.2:7")
	if err != nil {
		panic(err)
	}
	defer c.Close()
	buf := make([]byte, 1)
	for i := range 100 {
		c.Write([]byte{byte(i)})
		io.ReadFull(c, buf)
	}
	fmt.Println("round trips: 100, packets B's readers took from the link:", b.Stats().TCP.BusyPollRxPackets)
	// Output: round trips: 100, packets B's readers took from the link: 0
}
