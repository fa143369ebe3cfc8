package stack

import (
	"net"
	"testing"

	"golang.org/x/net/nettest"
)

// TestNetConnConformance runs golang.org/x/net/nettest's net.Conn checks
// (basic I/O, ping-pong, racy reads and writes, deadlines, close
// semantics) on a pair of our TCP connections between two stacks.
func TestNetConnConformance(t *testing.T) {
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		a, b := stackPair(t, nil, Options{})
		x, y := connPair(t, a, b)
		stop = func() {
			x.Close()
			y.Close()
			a.Close()
			b.Close()
		}
		return x, y, stop, nil
	})
}
