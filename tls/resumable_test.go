package tls

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"testing"
)

// stallingConn writes only part of a Write and reports a timeout when
// stallNext is set, as a connection does when its write deadline passes in
// the middle of a record.
type stallingConn struct {
	net.Conn
	stallNext atomic.Bool
}

func (c *stallingConn) Write(b []byte) (int, error) {
	if c.stallNext.CompareAndSwap(true, false) {
		n, err := c.Conn.Write(b[:len(b)/2])
		if err != nil {
			return n, err
		}
		return n, &net.OpError{Op: "write", Net: "tcp", Err: os.ErrDeadlineExceeded}
	}
	return c.Conn.Write(b)
}

// TestWriteTimeoutMidRecordKeepsTheStream cuts a record in half with a
// timeout and checks that the caller learns of the timeout, that the count
// it gets is a true prefix, and that the peer still reads every byte in
// order afterwards.
func TestWriteTimeoutMidRecordKeepsTheStream(t *testing.T) {
	p := newTestPKI(t)
	serverRaw, clientRaw, err := loopbackPair()
	if err != nil {
		t.Fatal(err)
	}
	stalling := &stallingConn{Conn: clientRaw}
	r := handshakeOver(t, serverRaw, stalling, p.serverConfig(), p.clientConfig())
	if r.clientErr != nil || r.serverErr != nil {
		t.Fatalf("client %v, server %v", r.clientErr, r.serverErr)
	}

	message := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB: four records
	received := make(chan []byte, 1)
	go func() {
		got, _ := io.ReadAll(r.server)
		received <- got
	}()

	stalling.stallNext.Store(true)
	n, err := r.client.Write(message)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Write = %d, %v; want a timeout", n, err)
	}
	if n <= 0 || n >= len(message) {
		t.Fatalf("Write reported %d of %d bytes", n, len(message))
	}
	// The connection is still good: send the rest and close.
	if m, err := r.client.Write(message[n:]); err != nil || m != len(message)-n {
		t.Fatalf("second Write = %d, %v", m, err)
	}
	r.client.Close()
	if got := <-received; !bytes.Equal(got, message) {
		t.Errorf("peer read %d bytes, want the %d sent, in order", len(got), len(message))
	}
}
