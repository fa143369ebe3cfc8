package stack_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/tundra-net/tundra/stack"
)

// Socket options the Go way: ConnOptions give a connection its settings
// before its SYN (what setsockopt before connect(2) does), TCPConn's
// setters change them afterwards, and a TCPListener's go to the
// connections it accepts.
func ExampleStack_DialTCPWith() {
	a, b := exampleHosts()
	defer a.Close()
	defer b.Close()

	l, err := b.ListenTCP(netip.MustParseAddrPort("198.18.0.2:7"), 8)
	if err != nil {
		panic(err)
	}
	defer l.Close()
	l.SetTOS(0x20) // the server's packets: DSCP class selector 1 (RFC 2474)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		io.Copy(io.Discard, c)
		c.Close()
	}()

	cfg := a.TCPConfig()
	cfg.ConnectTimeout = 5 * time.Second // TCP_KEEPINIT: give up on the handshake after 5 s
	c, err := a.DialTCPWith(context.Background(), netip.MustParseAddrPort("198.18.0.2:7"),
		stack.ConnOptions{TCP: cfg, TOS: 0xb8}) // DSCP EF, from the SYN on
	if err != nil {
		panic(err)
	}
	c.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: 30 * time.Second, Interval: 10 * time.Second, Count: 3})
	fmt.Printf("TOS %#x, connect timeout %v\nkeepalive %+v\n", c.TOS(), c.ConnectTimeout(), c.KeepAliveConfig())
	c.Close()

	// Nobody listens on port 8: B's RST refuses the connection.
	_, err = a.DialTCPWith(context.Background(), netip.MustParseAddrPort("198.18.0.2:8"), stack.ConnOptions{})
	fmt.Println("port 8 refused:", errors.Is(err, syscall.ECONNREFUSED))
	// Output:
	// TOS 0xb8, connect timeout 5s
	// keepalive {Enable:true Idle:30s Interval:10s Count:3}
	// port 8 refused: true
}
