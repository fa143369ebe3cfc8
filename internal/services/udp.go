package services

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/tundra-net/tundra/stack"
)

// UDPEchoPort is the port of the UDP echo service (RFC 862: "When a
// datagram is received, the data from it is sent back in an answering
// datagram").
const UDPEchoPort = 7

func init() { Register(startUDPEcho) }

// startUDPEcho opens UDP echo on every address of st.
func startUDPEcho(st *stack.Stack, r *Running) error {
	c, err := st.ListenUDP(netip.AddrPortFrom(netip.IPv4Unspecified(), UDPEchoPort))
	if err != nil {
		return fmt.Errorf("services: UDP port %d: %w", UDPEchoPort, err)
	}
	r.Track(c)
	r.Go(func() { udpEcho(c, r) })
	return nil
}

// udpEcho answers each datagram with its own data until c is closed. One
// goroutine serves every client: UDP has no connections to hand out.
func udpEcho(c *stack.UDPConn, r *Running) {
	buf := make([]byte, 65536)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				r.log.Error("udp echo read", "err", err)
			}
			return
		}
		if _, err := c.WriteToUDPAddrPort(buf[:n], from); err != nil && !errors.Is(err, net.ErrClosed) {
			r.log.Error("udp echo write", "to", from, "err", err)
		}
	}
}
