package stack

import (
	"net"
	"net/netip"
	"sync"

	"github.com/tundra-net/tundra/tcp"
)

// DefaultListenBacklog is the backlog of Listen: how many connections may
// wait, half-open or established, for Accept (Linux's SOMAXCONN is 4096;
// 128 was its value for decades).
const DefaultListenBacklog = 128

// TCPListener is a listening TCP socket. It implements net.Listener.
//
// The listener is the LISTEN state of RFC 9293 seen from the application:
// each SYN it accepts becomes a new connection in SYN-RECEIVED, and once the
// three-way handshake completes that connection waits in the accept queue.
// The backlog bounds both together. Once it is full, further SYNs are
// answered with SYN cookies (RFC 4987, syncookie.go), which keep no state,
// so a flood of SYNs from spoofed addresses cannot crowd out real clients;
// with Options.DisableSYNCookies they are dropped, and the peer's SYN
// retransmission tries again later. When the stack holds
// Options.MaxTCPConnections connections, SYNs are refused with a RST.
type TCPListener struct {
	s    *Stack
	key  listenKey
	addr *net.TCPAddr

	mu       sync.Mutex
	backlog  int
	children map[*TCPConn]struct{} // not yet accepted (half-open or queued)
	queue    chan *TCPConn         // established, waiting for Accept
	closed   chan struct{}
	isClosed bool
	tos, ttl uint8 // given to its connections (SetTOS, SetTTL)

	cookies *synCookies
}

// Listen announces on the local address. network must be "tcp" or "tcp4";
// address is "host:port" where host may be empty (every address of the
// stack) and port 0 picks a free port. The backlog is
// DefaultListenBacklog; use ListenTCP to choose it.
func (s *Stack) Listen(network, address string) (net.Listener, error) {
	if network != "tcp" && network != "tcp4" {
		return nil, &net.OpError{Op: "listen", Net: network, Err: net.UnknownNetworkError(network)}
	}
	ap, err := parseLocalAddrPort(address)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Err: err}
	}
	return s.ListenTCP(ap, DefaultListenBacklog)
}

// ListenTCP announces on addr (an unspecified address means every address
// of the stack; port 0 picks a free port) with the given backlog (at least
// 1).
func (s *Stack) ListenTCP(addr netip.AddrPort, backlog int) (*TCPListener, error) {
	return s.listenTCP(addr, backlog, nil)
}

// listenKeyFor checks a local address for BindTCP and ListenTCP.
func (s *Stack) listenKeyFor(addr netip.AddrPort) (listenKey, error) {
	key := listenKey{port: addr.Port()}
	if addr.Addr().IsValid() && !addr.Addr().IsUnspecified() {
		if !addr.Addr().Is4() || !s.isOurs(addr.Addr().As4()) {
			return key, errAddrNotAvailable
		}
		key.addr = addr.Addr().As4()
	}
	return key, nil
}

// listenTCP is ListenTCP; owner, if not nil, is the bound socket that
// becomes the listener and hands it its port.
func (s *Stack) listenTCP(addr netip.AddrPort, backlog int, owner *TCPSocket) (*TCPListener, error) {
	opErr := func(err error) error {
		return &net.OpError{Op: "listen", Net: "tcp", Addr: net.TCPAddrFromAddrPort(addr), Err: err}
	}
	if backlog < 1 {
		backlog = 1
	}
	key, err := s.listenKeyFor(addr)
	if err != nil {
		return nil, opErr(err)
	}
	t := s.tcp
	t.mu.Lock()
	defer t.mu.Unlock()
	select {
	case <-s.closed:
		return nil, opErr(net.ErrClosed)
	default:
	}
	if key.port == 0 {
		key.port = t.freeListenPortLocked()
		if key.port == 0 {
			return nil, opErr(errAddrInUse)
		}
	}
	if t.portTakenLocked(key, owner) {
		return nil, opErr(errAddrInUse)
	}
	if owner != nil {
		delete(t.bound, owner.key)
	}
	l := &TCPListener{s: s, key: key, backlog: backlog,
		addr:     net.TCPAddrFromAddrPort(netip.AddrPortFrom(netip.AddrFrom4(key.addr), key.port)),
		children: make(map[*TCPConn]struct{}),
		queue:    make(chan *TCPConn, backlog),
		closed:   make(chan struct{}),
		cookies:  newSYNCookies(),
	}
	t.listeners[key] = l
	return l, nil
}

// handleSyn accepts a SYN for the listener (RFC 9293 3.10.7.2, LISTEN
// state, "third, check for a SYN"), unless the backlog is full.
func (l *TCPListener) handleSyn(id tcp.FourTuple, syn tcp.Segment) DropReason {
	return l.handleSynISS(id, syn, 0)
}

// handleSynISS is handleSyn for a connection reopened from TIME-WAIT,
// whose initial sequence number must be at least minISS (0: no floor).
func (l *TCPListener) handleSynISS(id tcp.FourTuple, syn tcp.Segment, minISS tcp.Seq) DropReason {
	s := l.s
	if s.tcp.connectionsFull() {
		s.tcp.sendReset(id, &syn) // refused: the stack-wide cap
		return DropTCPListenOverflow
	}
	l.mu.Lock()
	if l.isClosed {
		l.mu.Unlock()
		s.tcp.sendReset(id, &syn)
		return DropTCPNoSocket
	}
	if len(l.children) >= l.backlog {
		// The backlog is full. If that is half-open connections and the
		// accept queue has room, answer with a cookie (RFC 4987 3.6).
		cookie := !s.opts.DisableSYNCookies && len(l.queue) < cap(l.queue)
		l.mu.Unlock()
		if cookie {
			l.sendCookie(id, &syn)
			return DropNone
		}
		return DropTCPListenOverflow
	}
	var floor *tcp.Seq
	if minISS != 0 {
		floor = &minISS
	}
	c := newTCPConnISS(s, id, floor, s.tcpConfig())
	c.tos, c.ttl = l.tos, l.ttl
	c.listener = l
	l.children[c] = struct{}{}
	l.mu.Unlock()
	if !s.tcp.register(c) {
		// The same four-tuple appeared meanwhile (a duplicated SYN on
		// another goroutine): that connection handles it.
		l.forget(c)
		return DropNone
	}
	s.counters.tcp.passiveOpens.inc()
	c.mu.Lock()
	c.tcb.AcceptSyn(syn, s.clock.Now())
	c.afterEvent()
	c.mu.Unlock()
	return DropNone
}

// enqueue puts an established connection in the accept queue (c.mu held).
func (l *TCPListener) enqueue(c *TCPConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.isClosed {
		return // Close aborts every child it knew of
	}
	select {
	case l.queue <- c:
	default:
		// Full (a cookie connection raced another to the last place): it
		// stays a child and is reset when the listener closes.
	}
}

// forget drops a child that closed before it was accepted (c.mu may be
// held).
func (l *TCPListener) forget(c *TCPConn) {
	l.mu.Lock()
	delete(l.children, c)
	l.mu.Unlock()
}

// Accept waits for the next connection and returns it (a *TCPConn).
func (l *TCPListener) Accept() (net.Conn, error) { return l.AcceptTCP() }

// AcceptTCP is Accept returning the concrete type.
func (l *TCPListener) AcceptTCP() (*TCPConn, error) {
	for {
		select {
		case c := <-l.queue:
			l.mu.Lock()
			delete(l.children, c)
			l.mu.Unlock()
			c.mu.Lock()
			c.listener = nil
			c.mu.Unlock()
			return c, nil
		case <-l.closed:
			return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.addr, Err: net.ErrClosed}
		}
	}
}

// Close stops listening. Connections not yet accepted are reset;
// accepted ones are not affected.
func (l *TCPListener) Close() error {
	l.mu.Lock()
	if l.isClosed {
		l.mu.Unlock()
		return &net.OpError{Op: "close", Net: "tcp", Addr: l.addr, Err: net.ErrClosed}
	}
	l.isClosed = true
	close(l.closed)
	children := make([]*TCPConn, 0, len(l.children))
	for c := range l.children {
		children = append(children, c)
	}
	clear(l.children)
	l.mu.Unlock()
	t := l.s.tcp
	t.mu.Lock()
	if t.listeners[l.key] == l {
		delete(t.listeners, l.key)
	}
	t.mu.Unlock()
	// Half-open children are dropped silently, as BSD and Linux drop
	// their SYN-RECEIVED entries; established ones that no Accept took are
	// reset, so their peers learn at once.
	for _, c := range children {
		c.mu.Lock()
		if c.tcb.State() == tcp.SynReceived {
			c.tcb.Discard()
			c.afterEvent()
			c.mu.Unlock()
			continue
		}
		c.mu.Unlock()
		c.abort()
	}
	return nil
}

// Addr returns the listening address, a *net.TCPAddr.
func (l *TCPListener) Addr() net.Addr { return l.addr }

// freeListenPortLocked picks an unused ephemeral port for a listener.
func (t *tcpTransport) freeListenPortLocked() uint16 {
	for range ephemeralLast - ephemeralFirst + 1 {
		p := t.nextPort
		t.nextPort++
		if t.nextPort > ephemeralLast || t.nextPort < ephemeralFirst {
			t.nextPort = ephemeralFirst
		}
		if !t.portTakenLocked(listenKey{port: p}, nil) {
			return p
		}
	}
	return 0
}

// anyListenerOnPortLocked reports whether some listener uses port.
func (t *tcpTransport) anyListenerOnPortLocked(port uint16) bool {
	for k := range t.listeners {
		if k.port == port {
			return true
		}
	}
	return false
}
