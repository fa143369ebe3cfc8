package stack

import (
	"net"
	"net/netip"
	"os"
	"syscall"

	"github.com/tundra-net/tundra/tcp"
)

// This file holds the calls that never block, for programs that drive a
// stack in Options.Manual mode from one goroutine on a clock.Virtual (the
// simulator, step-by-step tests): a blocking Dial or Accept would wait for
// packets that only the same goroutine can deliver.

// StartDialTCP begins an active open from localPort (0: an ephemeral
// port, chosen at random as Dial does; a fixed port makes a simulation's
// output identical from run to run) to remote (RFC 9293 3.10.1: the SYN
// goes out before it returns), and returns the connection without waiting
// for the handshake. Watch State for ESTABLISHED, or CLOSED with the
// reason in a failing Read or Write.
func (s *Stack) StartDialTCP(localPort uint16, remote netip.AddrPort) (*TCPConn, error) {
	return s.StartDialTCPWith(localPort, remote, ConnOptions{})
}

// StartDialTCPWith is StartDialTCP with the connection's own settings,
// which its SYN already carries.
func (s *Stack) StartDialTCPWith(localPort uint16, remote netip.AddrPort, o ConnOptions) (*TCPConn, error) {
	raddr := net.TCPAddrFromAddrPort(remote)
	opErr := func(err error) error { return &net.OpError{Op: "dial", Net: "tcp", Addr: raddr, Err: err} }
	if !remote.Addr().Is4() || remote.Port() == 0 {
		return nil, opErr(os.NewSyscallError("connect", syscall.EINVAL))
	}
	select {
	case <-s.closed:
		return nil, opErr(net.ErrClosed)
	default:
	}
	// Options.MaxTCPConnections bounds active opens too, so that a program
	// dialing in a loop cannot make the stack hold more than the cap.
	if s.tcp.connectionsFull() {
		return nil, opErr(os.NewSyscallError("connect", syscall.ENOBUFS))
	}
	local := s.addrs4[0]
	port := localPort
	if port == 0 {
		port = s.tcp.pickLocalPort(local, remote.Addr().As4(), remote.Port())
	} else if s.tcp.portHeld(local, port) {
		return nil, opErr(errAddrInUse)
	}
	if port == 0 {
		return nil, opErr(errAddrNotAvailable)
	}
	id := tcp.FourTuple{LocalAddr: local, RemoteAddr: remote.Addr().As4(), LocalPort: port, RemotePort: remote.Port()}
	c := newTCPConnISS(s, id, nil, s.connConfig(o.TCP))
	c.tos, c.ttl = o.TOS, o.TTL
	if !s.tcp.register(c) {
		return nil, opErr(errAddrNotAvailable)
	}
	s.counters.tcp.activeOpens.inc()
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.tcb.Connect(s.clock.Now())
	c.afterEvent()
	if err != nil {
		return nil, opErr(err)
	}
	return c, nil
}

// portHeld reports whether a listener or a bound socket holds port on
// local or on every address, so that a connection may not use it.
func (t *tcpTransport) portHeld(local [4]byte, port uint16) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.portHeldLocked(local, port)
}

// portHeldLocked is portHeld with t.mu held.
func (t *tcpTransport) portHeldLocked(local [4]byte, port uint16) bool {
	return t.listeners[listenKey{local, port}] != nil || t.listeners[listenKey{[4]byte{}, port}] != nil ||
		t.bound[listenKey{local, port}] != nil || t.bound[listenKey{[4]byte{}, port}] != nil
}

// AcceptReady reports whether an established connection waits in the
// accept queue, so that TryAcceptTCP would return one; it takes nothing.
func (l *TCPListener) AcceptReady() bool { return len(l.queue) > 0 }

// TryAcceptTCP returns the next established connection waiting in the
// accept queue, or nil if there is none; it never waits.
func (l *TCPListener) TryAcceptTCP() *TCPConn {
	select {
	case c := <-l.queue:
		l.mu.Lock()
		delete(l.children, c)
		l.mu.Unlock()
		c.mu.Lock()
		c.listener = nil
		c.mu.Unlock()
		return c
	default:
		return nil
	}
}

// ID returns the connection's four-tuple, as the tcp.Observer methods
// name it.
func (c *TCPConn) ID() tcp.FourTuple { return c.id }

// ReadReady reports whether Read would return at once: with data, io.EOF
// or an error. A caller that must not block checks it first.
func (c *TCPConn) ReadReady() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tcb.ReadReady()
}

// Writable returns how many bytes Write can take at once without waiting
// for room in the send buffer (0 once the write side is closed).
func (c *TCPConn) Writable() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tcb.Writable()
}

// TCPConns returns the stack's TCP connections (in any state but CLOSED,
// not yet accepted ones included), for tools that sample them all, such as
// trace.Tracer.SampleStack.
func (s *Stack) TCPConns() []*TCPConn {
	s.tcp.mu.RLock()
	defer s.tcp.mu.RUnlock()
	conns := make([]*TCPConn, 0, len(s.tcp.conns))
	for _, c := range s.tcp.conns {
		conns = append(conns, c)
	}
	return conns
}
