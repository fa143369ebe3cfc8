package tls

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
)

// resumableConn sits between crypto/tls and the connection underneath and
// lets a TLS connection survive a write deadline.
//
// crypto/tls treats any write error as permanent: part of a record may be
// on the wire, and a record cut short cannot be taken back. resumableConn
// instead keeps the unsent tail of a record when a write times out, reports
// the record as written, and sends the tail first on the next write. The
// byte stream stays whole. Conn.Write hands crypto/tls at most one record's
// worth of data at a time and checks timedOut after each, so the caller
// learns of the timeout and the pending tail never holds more than one
// Write's records (a few records, at most maxRecordPayload of data).
//
// It does this only once armed, after the handshake: a handshake that times
// out fails, as it should.
type resumableConn struct {
	net.Conn
	owner *Conn // the TLS connection on top, for the trace hooks

	armed atomic.Bool

	mu       sync.Mutex
	pending  []byte // record bytes accepted but not yet sent
	timedOut bool   // a write timed out since takeTimeout last ran
}

// Write sends what is pending and then b. See resumableConn.
func (r *resumableConn) Write(b []byte) (int, error) {
	if !r.armed.Load() {
		return r.Conn.Write(b)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.pending) > 0 {
		n, err := r.Conn.Write(r.pending)
		r.pending = r.pending[n:]
		if err != nil {
			if !isTimeout(err) {
				return 0, err
			}
			r.pending = append(r.pending, b...)
			r.timedOut = true
			return len(b), nil
		}
		r.pending = r.pending[:0]
	}
	n, err := r.Conn.Write(b)
	if err != nil && isTimeout(err) {
		r.pending = append(r.pending, b[n:]...)
		r.timedOut = true
		return len(b), nil
	}
	return n, err
}

// takeTimeout reports whether a write timed out since the last call, and
// clears the mark.
func (r *resumableConn) takeTimeout() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.timedOut
	r.timedOut = false
	return t
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
