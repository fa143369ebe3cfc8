package tls

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"
)

// testPKI is a CA with a server certificate for localhost and 127.0.0.1 and
// a client certificate, made once for all tests (key generation is the slow
// part).
type testPKI struct {
	ca     *CA
	server *Issued
	client *Issued
}

var (
	pkiOnce sync.Once
	pki     testPKI
	pkiErr  error
)

func newTestPKI(t testing.TB) testPKI {
	t.Helper()
	pkiOnce.Do(func() {
		var p testPKI
		if p.ca, pkiErr = NewCA("tundra test CA"); pkiErr != nil {
			return
		}
		if p.server, pkiErr = p.ca.IssueServer("localhost", "127.0.0.1"); pkiErr != nil {
			return
		}
		if p.client, pkiErr = p.ca.IssueClient("student-1"); pkiErr != nil {
			return
		}
		pki = p
	})
	if pkiErr != nil {
		t.Fatal(pkiErr)
	}
	return pki
}

// serverConfig and clientConfig are the usual pair: the server has the
// localhost certificate, the client trusts the CA.
func (p testPKI) serverConfig() *Config {
	return &Config{Certificates: []Certificate{p.server.TLSCertificate()}}
}

func (p testPKI) clientConfig() *Config {
	return &Config{RootCAs: p.ca.Pool(), ServerName: "localhost"}
}

// handshakeResult is what each side's handshake returned.
type handshakeResult struct {
	client, server       *Conn
	clientErr, serverErr error
}

// handshakeLoopback runs both handshakes over kernel loopback TCP, with a
// bound on time. (net.Pipe has no buffer: a TLS 1.3 server's session ticket
// write would wait for a client that is not reading yet.)
func handshakeLoopback(t testing.TB, serverCfg, clientCfg *Config) handshakeResult {
	t.Helper()
	serverRaw, clientRaw, err := loopbackPair()
	if err != nil {
		t.Fatal(err)
	}
	return handshakeOver(t, serverRaw, clientRaw, serverCfg, clientCfg)
}

func handshakeOver(t testing.TB, serverRaw, clientRaw net.Conn, serverCfg, clientCfg *Config) handshakeResult {
	t.Helper()
	var r handshakeResult
	var err error
	if r.server, err = Server(serverRaw, serverCfg); err != nil {
		t.Fatal(err)
	}
	if r.client, err = Client(clientRaw, clientCfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.client.Close()
		r.server.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.serverErr = r.server.HandshakeContext(ctx)
		if r.serverErr != nil {
			serverRaw.Close() // unblock the client on net.Pipe
		}
	}()
	r.clientErr = r.client.HandshakeContext(ctx)
	if r.clientErr != nil {
		clientRaw.Close()
	}
	wg.Wait()
	return r
}

// exchange sends one message each way, so that TLS 1.3 post-handshake
// messages (session tickets, the server's view of a client certificate
// failure) are processed by both sides. It returns the first error.
func exchange(client, server *Conn) (clientErr, serverErr error) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 5)
		if _, serverErr = readFull(server, buf); serverErr != nil {
			server.NetConn().Close()
			return
		}
		_, serverErr = server.Write([]byte("world"))
	}()
	if _, clientErr = client.Write([]byte("hello")); clientErr == nil {
		buf := make([]byte, 5)
		_, clientErr = readFull(client, buf)
	}
	if clientErr != nil {
		client.NetConn().Close()
	}
	wg.Wait()
	return clientErr, serverErr
}

func readFull(c net.Conn, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := c.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// serveLoopback runs a TLS listener on kernel loopback that hands each
// connection, with a deadline of d, to handle on its own goroutine and
// closes it afterwards; the listener closes when the test ends.
func serveLoopback(tb testing.TB, cfg *Config, d time.Duration, handle func(net.Conn)) net.Listener {
	tb.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := NewListener(inner, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(d))
				handle(c)
			}()
		}
	}()
	return ln
}
