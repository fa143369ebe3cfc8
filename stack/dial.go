package stack

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"

	"github.com/tundra-net/tundra/tcp"
)

var (
	errAddrInUse        = os.NewSyscallError("bind", syscall.EADDRINUSE)
	errAddrNotAvailable = os.NewSyscallError("bind", syscall.EADDRNOTAVAIL)
	errNoResolver       = errors.New("tundra: host names need a resolver; give an IPv4 address")
)

// Dial connects to address on the named network, like net.Dial. network is
// "tcp" or "tcp4"; address is "ip:port".
func (s *Stack) Dial(network, address string) (net.Conn, error) {
	return s.DialContext(context.Background(), network, address)
}

// DialContext is Dial with a context: cancelling it before the connection
// is established aborts the attempt. It has the signature of
// net.Dialer.DialContext, so it plugs into HTTP clients and TLS dialers.
func (s *Stack) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "udp", "udp4":
	default:
		return nil, &net.OpError{Op: "dial", Net: network, Err: net.UnknownNetworkError(network)}
	}
	ap, err := parseRemoteAddrPort(address)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	if network == "udp" || network == "udp4" {
		// No handshake: only a context that has already ended stops it.
		if err := ctx.Err(); err != nil {
			return nil, &net.OpError{Op: "dial", Net: network, Addr: net.UDPAddrFromAddrPort(ap), Err: err}
		}
		c, err := s.DialUDP(ap)
		if err != nil {
			return nil, err // not a nil *UDPConn inside a non-nil net.Conn
		}
		return c, nil
	}
	return s.DialTCP(ctx, ap)
}

// DialTCP opens a TCP connection to remote from the stack's first address
// and an ephemeral port (the active open of RFC 9293 3.10.1): it sends a
// SYN and waits for the handshake to complete, for a RST (an error
// wrapping syscall.ECONNREFUSED), for the SYN retries to run out
// (syscall.ETIMEDOUT) or for ctx to end.
func (s *Stack) DialTCP(ctx context.Context, remote netip.AddrPort) (*TCPConn, error) {
	return s.DialTCPWith(ctx, remote, ConnOptions{})
}

// DialTCPWith is DialTCP with the connection's own settings (ConnOptions),
// as a program sets socket options before connect(2): its SYN already
// carries them.
func (s *Stack) DialTCPWith(ctx context.Context, remote netip.AddrPort, o ConnOptions) (*TCPConn, error) {
	c, err := s.StartDialTCPWith(0, remote, o)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.waitEstablished(ctx); err != nil {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Source: c.localTCPAddr(), Addr: c.remoteTCPAddr(), Err: err}
	}
	return c, nil
}

// waitEstablished waits (c.mu held) until the handshake completes, fails or
// ctx ends; on failure the connection is gone from the stack.
func (c *TCPConn) waitEstablished(ctx context.Context) error {
	for {
		switch c.tcb.State() {
		case tcp.SynSent, tcp.SynReceived:
		case tcp.Closed:
			err := c.tcb.Err()
			var te *tcp.Error
			if errors.As(err, &te) {
				return os.NewSyscallError("connect", te.Errno())
			}
			if err == nil {
				err = os.NewSyscallError("connect", syscall.ECONNABORTED)
			}
			return err
		default:
			return nil // ESTABLISHED, or already past it (data and FIN came fast)
		}
		ch := c.changed()
		c.mu.Unlock()
		select {
		case <-ch:
			c.mu.Lock()
		case <-ctx.Done():
			c.mu.Lock()
			c.tcb.Abort(c.s.clock.Now())
			c.afterEvent()
			return ctx.Err()
		case <-c.s.closed:
			c.mu.Lock()
			return net.ErrClosed
		}
	}
}

// splitAddrPort splits "host:port" and parses the port.
func splitAddrPort(address string) (host string, port uint16, err error) {
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return "", 0, err
	}
	p, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return "", 0, &net.AddrError{Err: "invalid port", Addr: address}
	}
	return host, uint16(p), nil
}

// parseRemoteAddrPort parses "ip:port" for Dial.
func parseRemoteAddrPort(address string) (netip.AddrPort, error) {
	host, port, err := splitAddrPort(address)
	if err != nil {
		return netip.AddrPort{}, err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.AddrPort{}, errNoResolver
	}
	if !ip.Unmap().Is4() {
		return netip.AddrPort{}, &net.AddrError{Err: "tundra speaks IPv4 only", Addr: address}
	}
	return netip.AddrPortFrom(ip.Unmap(), port), nil
}

// parseLocalAddrPort parses "[ip]:port" for Listen; an empty host means
// every address.
func parseLocalAddrPort(address string) (netip.AddrPort, error) {
	host, port, err := splitAddrPort(address)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if host == "" {
		return netip.AddrPortFrom(netip.IPv4Unspecified(), port), nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Unmap().Is4() {
		return netip.AddrPort{}, &net.AddrError{Err: "not an IPv4 address", Addr: address}
	}
	return netip.AddrPortFrom(ip.Unmap(), port), nil
}
