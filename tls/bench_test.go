package tls

import (
	"context"
	cryptotls "crypto/tls"
	"io"
	"net"
	"testing"
	"time"
)

// handshakeServer accepts TLS connections on kernel loopback, finishes
// each handshake, writes one byte and drains the connection until the
// client closes. The byte follows the TLS 1.3 session tickets, so a client
// that reads it has stored them.
func handshakeServer(b *testing.B, cfg *Config) string {
	b.Helper()
	ln := serveLoopback(b, cfg, 30*time.Second, func(c net.Conn) {
		if _, err := c.Write([]byte{'x'}); err == nil {
			io.Copy(io.Discard, c)
		}
	})
	return ln.Addr().String()
}

// BenchmarkHandshake measures complete handshakes over kernel loopback,
// one after another: TCP connect, handshake, and one byte from the server
// (which carries the session tickets along).
func BenchmarkHandshake(b *testing.B) {
	p := newTestPKI(b)
	for _, tc := range []struct {
		name    string
		server  func() *Config
		client  func() *Config
		resumed bool
	}{
		{"TLS13/full", p.serverConfig, func() *Config {
			c := p.clientConfig()
			c.SessionTicketsDisabled = true
			return c
		}, false},
		{"TLS13/resumed", p.serverConfig, p.clientConfig, true},
		{"TLS12/full", func() *Config {
			c := p.serverConfig()
			c.MaxVersion = cryptotls.VersionTLS12
			c.SessionTicketsDisabled = true
			return c
		}, p.clientConfig, false},
		{"TLS12/resumed", func() *Config {
			c := p.serverConfig()
			c.MaxVersion = cryptotls.VersionTLS12
			return c
		}, p.clientConfig, true},
		{"TLS13/mutual", func() *Config {
			c, _ := mutualConfigs(p, RequireClientCert, 0)
			return c
		}, func() *Config {
			c := p.clientConfig()
			c.Certificates = []Certificate{p.client.TLSCertificate()}
			c.SessionTicketsDisabled = true
			return c
		}, false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			addr := handshakeServer(b, tc.server())
			d := &Dialer{Config: tc.client()}
			d.Config.ServerName = "localhost"
			if tc.resumed { // the first connection fills the session cache
				dialAndClose(b, d, addr, false)
			}
			b.ResetTimer()
			for b.Loop() {
				dialAndClose(b, d, addr, tc.resumed)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
		})
	}
}

// BenchmarkHandshakeParallel measures full TLS 1.3 handshakes from
// GOMAXPROCS clients at once.
func BenchmarkHandshakeParallel(b *testing.B) {
	p := newTestPKI(b)
	addr := handshakeServer(b, p.serverConfig())
	cfg := p.clientConfig()
	cfg.SessionTicketsDisabled = true
	d := &Dialer{Config: cfg}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			dialAndClose(b, d, addr, false)
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
}

func dialAndClose(b *testing.B, d *Dialer, addr string, wantResumed bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	tc := c.(*Conn)
	var one [1]byte
	if _, err := io.ReadFull(c, one[:]); err != nil {
		b.Fatal(err)
	}
	if wantResumed && !tc.ConnectionState().DidResume {
		b.Fatal("handshake did not resume")
	}
	c.Close()
}

// BenchmarkTransfer measures bulk data through a Conn over kernel loopback,
// against crypto/tls's own Conn on the same path, to show what the wrapper
// costs.
func BenchmarkTransfer(b *testing.B) {
	p := newTestPKI(b)
	for _, wrapped := range []bool{true, false} {
		name := "tundra"
		if !wrapped {
			name = "crypto-tls"
		}
		b.Run(name, func(b *testing.B) {
			serverRaw, clientRaw, err := loopbackPair()
			if err != nil {
				b.Fatal(err)
			}
			var client, server net.Conn
			if wrapped {
				r := handshakeOver(b, serverRaw, clientRaw, p.serverConfig(), p.clientConfig())
				if r.clientErr != nil || r.serverErr != nil {
					b.Fatal(r.clientErr, r.serverErr)
				}
				client, server = r.client, r.server
			} else {
				sc, _ := p.serverConfig().CryptoConfig()
				cc, _ := p.clientConfig().CryptoConfig()
				s := cryptotls.Server(serverRaw, sc)
				c := cryptotls.Client(clientRaw, cc)
				go s.Handshake()
				if err := c.Handshake(); err != nil {
					b.Fatal(err)
				}
				client, server = c, s
				b.Cleanup(func() { c.Close(); s.Close() })
			}
			done := make(chan struct{})
			go func() {
				io.Copy(io.Discard, server)
				close(done)
			}()
			buf := make([]byte, 64<<10)
			b.SetBytes(int64(len(buf)))
			b.ResetTimer()
			for b.Loop() {
				if _, err := client.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
			client.Close()
			<-done
		})
	}
}
