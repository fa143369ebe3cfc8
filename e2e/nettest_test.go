package e2e

import (
	cryptotls "crypto/tls"
	"errors"
	"net"
	"net/netip"
	"testing"

	"golang.org/x/net/nettest"

	"github.com/tundra-net/tundra/link/pipe"
	"github.com/tundra-net/tundra/stack"
	"github.com/tundra-net/tundra/tls"
)

// TestTLSOverStackIsANetConn runs golang.org/x/net/nettest's net.Conn
// checks (I/O, ping-pong, racing reads and writes, deadlines, close) on
// tundra TLS connections whose TCP is tundra's, between two stacks joined
// by an in-memory link: the whole product minus the TUN, without root.
// Both TLS versions are checked, since 1.2 and 1.3 close and frame
// differently.
func TestTLSOverStackIsANetConn(t *testing.T) {
	serverAddr := netip.MustParseAddr("198.18.0.2")
	clientAddr := netip.MustParseAddr("198.18.0.1")
	ca, err := tls.NewCA("nettest CA")
	if err != nil {
		t.Fatal(err)
	}
	issued, err := ca.IssueServer(serverAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	serverCfg := &tls.Config{Certificates: []tls.Certificate{issued.TLSCertificate()}}
	for _, version := range []uint16{cryptotls.VersionTLS13, cryptotls.VersionTLS12} {
		t.Run(cryptotls.VersionName(version), func(t *testing.T) {
			clientCfg := &tls.Config{RootCAs: ca.Pool(), MaxVersion: version}
			nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
				return tlsPairOverStacks(serverAddr, clientAddr, serverCfg, clientCfg)
			})
		})
	}
}

// tlsPairOverStacks starts two stacks on a link/pipe and returns a TLS
// client connection and the server connection it reached, both with the
// handshake done.
func tlsPairOverStacks(serverAddr, clientAddr netip.Addr, serverCfg, clientCfg *tls.Config) (client, server net.Conn, stop func(), err error) {
	serverEnd, clientEnd := pipe.New(pipe.Options{})
	serverStack, err := stack.New(serverEnd, stack.Options{Addresses: []netip.Addr{serverAddr}})
	if err != nil {
		return nil, nil, nil, err
	}
	clientStack, err := stack.New(clientEnd, stack.Options{Addresses: []netip.Addr{clientAddr}})
	if err != nil {
		serverStack.Close()
		return nil, nil, nil, err
	}
	closeStacks := func() {
		clientStack.Close()
		serverStack.Close()
	}
	inner, err := serverStack.Listen("tcp", ":443")
	if err != nil {
		closeStacks()
		return nil, nil, nil, err
	}
	defer inner.Close()
	l, err := tls.NewListener(inner, serverCfg)
	if err != nil {
		closeStacks()
		return nil, nil, nil, err
	}
	type accepted struct {
		c   net.Conn
		err error
	}
	done := make(chan accepted, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			if err = c.(*tls.Conn).Handshake(); err != nil {
				c.Close()
			}
		}
		done <- accepted{c, err}
	}()
	d := &tls.Dialer{NetDialContext: clientStack.DialContext, Config: clientCfg}
	client, err = d.Dial("tcp", netip.AddrPortFrom(serverAddr, 443).String())
	if err != nil {
		inner.Close()
		<-done
		closeStacks()
		return nil, nil, nil, err
	}
	a := <-done
	if a.err != nil {
		client.Close()
		closeStacks()
		return nil, nil, nil, errors.Join(errors.New("server side"), a.err)
	}
	stop = func() {
		client.Close()
		a.c.Close()
		closeStacks()
	}
	return client, a.c, stop, nil
}
