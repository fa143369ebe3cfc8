package stack_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"syscall"

	"github.com/tundra-net/tundra/stack"
	"github.com/tundra-net/tundra/tcp"
)

// A bound socket (socket(2) and bind(2) before listen(2)) holds its port:
// a dial to it meanwhile is refused with a RST, as by a closed port, and
// nothing else can take the port. ListenTCP then hands the port, and the
// socket's TOS byte, to a listener.
func ExampleStack_BindTCP() {
	a, b := exampleHosts()
	defer a.Close()
	defer b.Close()

	sock, err := b.BindTCP(netip.MustParseAddrPort("198.18.0.2:7"))
	if err != nil {
		panic(err)
	}
	sock.SetTOS(0x20) // before listen(2), as IP_TOS on a BSD socket
	_, err = b.ListenTCP(netip.MustParseAddrPort("198.18.0.2:7"), 8)
	fmt.Println("a second listener on port 7:", errors.Is(err, syscall.EADDRINUSE))
	_, err = a.DialTCP(context.Background(), netip.MustParseAddrPort("198.18.0.2:7"))
	fmt.Println("dial before listen refused:", errors.Is(err, syscall.ECONNREFUSED))

	l, err := sock.ListenTCP(8)
	if err != nil {
		panic(err)
	}
	defer l.Close()
	go func() {
		if c, err := l.Accept(); err == nil {
			io.Copy(c, c)
			c.Close()
		}
	}()
	c, err := a.DialTCP(context.Background(), netip.MustParseAddrPort("198.18.0.2:7"))
	if err != nil {
		panic(err)
	}
	defer c.Close()
	fmt.Println("dial after listen:", c.RemoteAddr())
	// Output:
	// a second listener on port 7: true
	// dial before listen refused: true
	// dial after listen: 198.18.0.2:7
}

// PendingError is getsockopt(SO_ERROR): the error with which the network
// ended the connection, returned once. Here the server resets the
// connection (SO_LINGER 0); the client's Read fails with ECONNRESET, and
// so does PendingError, once.
func ExampleTCPConn_PendingError() {
	a, b := exampleHosts()
	defer a.Close()
	defer b.Close()

	l, err := b.ListenTCP(netip.MustParseAddrPort("198.18.0.2:7"), 8)
	if err != nil {
		panic(err)
	}
	defer l.Close()
	go func() {
		c, err := l.AcceptTCP()
		if err != nil {
			return
		}
		c.SetLinger(0)
		c.Close() // a RST instead of a FIN
	}()
	c, err := a.DialTCP(context.Background(), netip.MustParseAddrPort("198.18.0.2:7"))
	if err != nil {
		panic(err)
	}
	defer c.Close()
	_, err = c.Read(make([]byte, 1))
	fmt.Println("read:", errors.Is(err, syscall.ECONNRESET))
	fmt.Println("pending:", errors.Is(c.PendingError(), syscall.ECONNRESET))
	fmt.Println("pending again:", c.PendingError())
	// Output:
	// read: true
	// pending: true
	// pending again: <nil>
}

// ECN (RFC 3168): by default tundra answers a peer that asks for it
// (tcp.ECNAccept, as Linux) and never asks itself; a stack with
// tcp.ECNRequest asks in its SYN, and both ends then use it: routers may
// mark packets instead of dropping them, and the sender slows down on the
// mark as on a loss.
func ExampleStack_SetTCPConfig_ecn() {
	a, b := exampleHosts()
	defer a.Close()
	defer b.Close()

	l, err := b.ListenTCP(netip.MustParseAddrPort("198.18.0.2:7"), 8)
	if err != nil {
		panic(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	dial := func() *stack.TCPConn {
		c, err := a.DialTCP(context.Background(), netip.MustParseAddrPort("198.18.0.2:7"))
		if err != nil {
			panic(err)
		}
		return c
	}
	c := dial()
	fmt.Println("default:", c.Stats().ECN)
	c.Close()

	cfg := a.TCPConfig()
	cfg.ECN = tcp.ECNRequest
	a.SetTCPConfig(cfg) // for connections opened from now on
	c = dial()
	fmt.Println("requested:", c.Stats().ECN)
	c.Close()
	// Output:
	// default: false
	// requested: true
}
