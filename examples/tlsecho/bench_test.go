package main

import (
	"context"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/tundra-net/tundra/link/pipe"
	"github.com/tundra-net/tundra/stack"
	"github.com/tundra-net/tundra/tls"
)

// BenchmarkHandshakeOverTundra measures full TLS 1.3 handshakes (TCP
// connect included) between two tundra stacks on an in-memory link, to
// compare with package tls's BenchmarkHandshake on kernel loopback.
func BenchmarkHandshakeOverTundra(b *testing.B) {
	for _, resume := range []bool{false, true} {
		name := "full"
		if resume {
			name = "resumed"
		}
		b.Run(name, func(b *testing.B) {
			serverEnd, clientEnd := pipe.New(pipe.Options{})
			serverStack, err := stack.New(serverEnd, stack.Options{Addresses: []netip.Addr{serverAddr}})
			if err != nil {
				b.Fatal(err)
			}
			defer serverStack.Close()
			clientStack, err := stack.New(clientEnd, stack.Options{Addresses: []netip.Addr{clientAddr}})
			if err != nil {
				b.Fatal(err)
			}
			defer clientStack.Close()

			ca, _ := tls.NewCA("bench CA")
			server, _ := ca.IssueServer(serverAddr.String())
			inner, err := serverStack.Listen("tcp", netip.AddrPortFrom(serverAddr, 443).String())
			if err != nil {
				b.Fatal(err)
			}
			ln, _ := tls.NewListener(inner, &tls.Config{Certificates: []tls.Certificate{server.TLSCertificate()}})
			defer ln.Close()
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					go func() {
						defer c.Close()
						c.SetDeadline(time.Now().Add(30 * time.Second))
						// One byte after the handshake carries the session
						// tickets to the client.
						if _, err := c.Write([]byte{'x'}); err == nil {
							io.Copy(io.Discard, c)
						}
					}()
				}
			}()
			d := &tls.Dialer{NetDialContext: clientStack.DialContext,
				Config: &tls.Config{RootCAs: ca.Pool(), SessionTicketsDisabled: !resume}}
			dial := func() net.Conn {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				c, err := d.DialContext(ctx, "tcp", ln.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				var one [1]byte
				if _, err := io.ReadFull(c, one[:]); err != nil {
					b.Fatal(err)
				}
				return c
			}
			if resume {
				dial().Close()
			}
			b.ResetTimer()
			for b.Loop() {
				c := dial()
				if c.(*tls.Conn).ConnectionState().DidResume != resume {
					b.Fatalf("DidResume = %v, want %v", !resume, resume)
				}
				c.Close()
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
		})
	}
}
