package stack

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/tundra-net/tundra/clock"
	"github.com/tundra-net/tundra/tcp"
)

// Defaults for the TCP forwarder.
const (
	DefaultForwarderTimeout    = 10 * time.Second
	DefaultForwarderMaxPending = 1024
)

// ErrForwardExpired is returned by TCPForwardRequest.Accept after the
// request was dropped: the handler took longer than
// Options.ForwarderTimeout, or already answered.
var ErrForwardExpired = errors.New("stack: forwarded SYN expired or already answered")

// TCPForwardRequest is a SYN for which no listener exists, handed to
// Options.TCPForwarder. The handler must call exactly one of Accept, Refuse
// or Drop; if it calls none within Options.ForwarderTimeout, the request
// is dropped for it (the peer's SYN retransmission will ask again), so a
// handler that never answers leaks nothing in the stack.
//
// This is how VPN-style programs terminate connections to any address: set
// Options.AcceptAnyDestination too, and every TCP connection through the
// TUN arrives here with its original destination in LocalAddr.
type TCPForwardRequest struct {
	f     *tcpForwarder
	id    tcp.FourTuple
	syn   tcp.Segment
	timer clock.Timer
	done  bool // answered or expired; guarded by f.mu
}

// LocalAddr is the destination the SYN was sent to.
func (r *TCPForwardRequest) LocalAddr() netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4(r.id.LocalAddr), r.id.LocalPort)
}

// RemoteAddr is the SYN's source.
func (r *TCPForwardRequest) RemoteAddr() netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4(r.id.RemoteAddr), r.id.RemotePort)
}

// take marks the request answered; it reports false if it already was.
func (r *TCPForwardRequest) take() bool {
	f := r.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.done {
		return false
	}
	r.done = true
	r.timer.Stop()
	delete(f.pending, r.id)
	return true
}

// Accept completes the handshake (SYN+ACK, then the peer's ACK) and returns
// the connection, or an error if the handshake fails, ctx ends first, or
// the request already expired.
func (r *TCPForwardRequest) Accept(ctx context.Context) (*TCPConn, error) {
	if !r.take() {
		return nil, ErrForwardExpired
	}
	s := r.f.s
	c := newTCPConn(s, r.id)
	if !s.tcp.register(c) {
		return nil, ErrForwardExpired
	}
	s.counters.tcp.passiveOpens.inc()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tcb.AcceptSyn(r.syn, s.clock.Now())
	c.afterEvent()
	if err := c.waitEstablished(ctx); err != nil {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Source: c.localTCPAddr(), Addr: c.remoteTCPAddr(), Err: err}
	}
	return c, nil
}

// Refuse answers the SYN with a RST, as a closed port does.
func (r *TCPForwardRequest) Refuse() {
	if r.take() {
		r.f.s.tcp.sendReset(r.id, &r.syn)
	}
}

// Drop ignores the SYN, as a firewall that drops does.
func (r *TCPForwardRequest) Drop() { r.take() }

// tcpForwarder holds the SYNs handed to the handler and not yet answered.
type tcpForwarder struct {
	s       *Stack
	mu      sync.Mutex
	pending map[tcp.FourTuple]*TCPForwardRequest
}

// handleSyn hands a SYN without a listener to the user's handler, on its
// own goroutine, unless one for the same four-tuple is pending (a
// retransmitted SYN) or too many are.
func (f *tcpForwarder) handleSyn(id tcp.FourTuple, syn tcp.Segment) DropReason {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, dup := f.pending[id]; dup {
		return DropNone
	}
	if len(f.pending) >= f.s.opts.ForwarderMaxPending {
		return DropTCPListenOverflow
	}
	// The segment's payload points into the link's buffer, which is reused
	// after this batch; keep a copy.
	syn.Payload = append([]byte(nil), syn.Payload...)
	r := &TCPForwardRequest{f: f, id: id, syn: syn}
	r.timer = f.s.clock.AfterFunc(f.s.opts.ForwarderTimeout, func() { r.take() })
	f.pending[id] = r
	go f.s.opts.TCPForwarder(r)
	return DropNone
}

// ForwarderPending returns how many forwarded SYNs wait for their
// handler's answer.
func (s *Stack) ForwarderPending() int {
	s.forwarder.mu.Lock()
	defer s.forwarder.mu.Unlock()
	return len(s.forwarder.pending)
}
