package stack

import (
	"errors"

	"github.com/tundra-net/tundra/tcp"
)

// A BSD socket keeps a pending error (so_error): set when the network ends
// the connection or refuses it, returned and cleared by
// getsockopt(SO_ERROR). A TCPConn keeps the same: Err says why the
// connection ended, PendingError reports it once, and SoftError reports an
// ICMP error that did not end it (RFC 9293 3.9.2.2). Read, Write and a
// failed Dial report the same errors the Go way.

// Err returns why the connection ended: an error matching
// syscall.ECONNREFUSED (a RST or an ICMP hard error answered the SYN),
// syscall.ECONNRESET (the peer reset it), syscall.ETIMEDOUT (retransmissions,
// keepalives or the connect timeout went unanswered; or, if an ICMP
// message explained the silence, its error, such as syscall.EHOSTUNREACH)
// or syscall.ECONNABORTED (the application or Stack.Close aborted it). It is
// nil while the connection is open and after a graceful close.
func (c *TCPConn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tcb.Err()
}

// PendingError returns, once, the error with which the network ended the
// connection, and nil after that, while the connection is open, after a
// graceful close and after an abort by the application: what
// getsockopt(SO_ERROR) returns and clears on a BSD socket. Read and Write
// keep returning the error.
func (c *TCPConn) PendingError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.tcb.Err()
	if err == nil || c.errTaken || errors.Is(err, tcp.ErrConnectionAborted) {
		return nil
	}
	c.errTaken = true
	return err
}

// SoftError returns the error of the last ICMP message about one of the
// connection's segments that did not end it, such as syscall.EHOSTUNREACH
// for "host unreachable", while that segment is unacknowledged; nil
// otherwise (RFC 9293 3.9.2.2: a soft error "SHOULD" be made available to
// the application, and the connection goes on). If the connection times
// out, Err returns this error.
func (c *TCPConn) SoftError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tcb.SoftError()
}
