package stack

import (
	"net"
	"net/netip"
	"sync"
)

// TCPSocket is a TCP socket bound to a local address and port but neither
// listening nor connected: what socket(2) and bind(2) make before
// listen(2). It holds the port, so that no other listener or dial takes it,
// and options that the listener made from it starts with. A segment that
// arrives for its port meanwhile is answered as RFC 9293 3.10.7.1 answers
// one for a CLOSED connection, with a RST, and that RST carries the
// socket's TOS byte and TTL, as a BSD socket's does.
type TCPSocket struct {
	s    *Stack
	key  listenKey
	addr *net.TCPAddr

	mu       sync.Mutex
	tos, ttl uint8
	done     bool // listening or closed: the port is no longer held here
}

// BindTCP binds a TCP socket to local (an address of the stack, or the
// unspecified address for all of them; port 0 picks a free port). It fails
// with an error wrapping syscall.EADDRINUSE if a listener or another bound
// socket holds the port.
func (s *Stack) BindTCP(local netip.AddrPort) (*TCPSocket, error) {
	key, err := s.listenKeyFor(local)
	opErr := func(err error) error {
		return &net.OpError{Op: "bind", Net: "tcp", Addr: net.TCPAddrFromAddrPort(local), Err: err}
	}
	if err != nil {
		return nil, opErr(err)
	}
	t := s.tcp
	t.mu.Lock()
	defer t.mu.Unlock()
	if key.port == 0 {
		if key.port = t.freeListenPortLocked(); key.port == 0 {
			return nil, opErr(errAddrInUse)
		}
	}
	if t.portTakenLocked(key, nil) {
		return nil, opErr(errAddrInUse)
	}
	b := &TCPSocket{s: s, key: key,
		addr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(netip.AddrFrom4(key.addr), key.port))}
	t.bound[key] = b
	return b, nil
}

// Addr returns the bound address, a *net.TCPAddr.
func (b *TCPSocket) Addr() net.Addr { return b.addr }

// SetTOS sets the type-of-service byte of the socket's RSTs and, once it
// listens, of its listener (IP_TOS before listen(2)).
func (b *TCPSocket) SetTOS(tos uint8) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tos = tos
	return nil
}

// SetTTL sets the time to live of the socket's RSTs and, once it listens,
// of its listener (IP_TTL); 0 means Options.TTL.
func (b *TCPSocket) SetTTL(ttl uint8) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ttl = ttl
	return nil
}

// ipFields returns the TOS byte and TTL of the socket's packets.
func (b *TCPSocket) ipFields() (tos, ttl uint8) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tos, b.s.ttlOr(b.ttl)
}

// ListenTCP makes the socket a listener on its address, with its TOS and
// TTL (listen(2)); the port passes from the socket to the listener.
func (b *TCPSocket) ListenTCP(backlog int) (*TCPListener, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return nil, &net.OpError{Op: "listen", Net: "tcp", Addr: b.addr, Err: net.ErrClosed}
	}
	l, err := b.s.listenTCP(b.addr.AddrPort(), backlog, b)
	if err != nil {
		return nil, err
	}
	b.done = true
	l.tos, l.ttl = b.tos, b.ttl
	return l, nil
}

// Close releases the port.
func (b *TCPSocket) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return &net.OpError{Op: "close", Net: "tcp", Addr: b.addr, Err: net.ErrClosed}
	}
	b.done = true
	t := b.s.tcp
	t.mu.Lock()
	if t.bound[b.key] == b {
		delete(t.bound, b.key)
	}
	t.mu.Unlock()
	return nil
}

// boundSocket returns the socket bound to port on local (or on every
// address), if any.
func (t *tcpTransport) boundSocket(local [4]byte, port uint16) *TCPSocket {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if b := t.bound[listenKey{local, port}]; b != nil {
		return b
	}
	return t.bound[listenKey{[4]byte{}, port}]
}

// portTakenLocked reports whether a listener or a bound socket other than
// owner holds key's port on its address (t.mu held). A key for every
// address conflicts with any holder of the port.
func (t *tcpTransport) portTakenLocked(key listenKey, owner *TCPSocket) bool {
	if t.listeners[key] != nil || t.listeners[listenKey{port: key.port}] != nil ||
		(key.addr == [4]byte{} && t.anyListenerOnPortLocked(key.port)) {
		return true
	}
	for k, b := range t.bound {
		if b != owner && k.port == key.port && (k.addr == key.addr || k.addr == [4]byte{} || key.addr == [4]byte{}) {
			return true
		}
	}
	return false
}
