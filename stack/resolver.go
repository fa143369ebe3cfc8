package stack

import (
	"context"
	"net"
	"net/netip"
)

// Resolver returns a *net.Resolver whose DNS queries travel through the
// stack, over UDP (and over TCP when an answer is truncated, RFC 7766), to
// server, such as 198.18.0.1:53. It is Go's own resolver (PreferGo) with
// a Dial that ignores the name servers of /etc/resolv.conf and dials
// server on the stack instead, so it works without the host's network and
// resolves what that server knows.
//
// Two things still come from the host, as they do for Go's resolver: names
// in /etc/hosts are answered from there first (per /etc/nsswitch.conf),
// and the search domains and ndots of /etc/resolv.conf decide which names
// are tried; write names with a final dot ("host.example.") to ask for
// exactly them.
func (s *Stack) Resolver(server netip.AddrPort) *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			switch network {
			case "tcp", "tcp4", "tcp6":
				return s.DialContext(ctx, "tcp", server.String())
			default: // "udp", "udp4", "udp6"
				return s.DialContext(ctx, "udp", server.String())
			}
		},
	}
}
