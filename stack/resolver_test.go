package stack

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// serveDNS is a tiny authoritative DNS server on pc: A queries for the
// names in answers get their address; other queries for those names get
// an empty answer, and other names NXDOMAIN. It counts the queries it
// answers on queries, if not nil, and returns when pc is closed.
func serveDNS(pc net.PacketConn, answers map[string]netip.Addr, queries chan<- string) {
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		var p dnsmessage.Parser
		hdr, err := p.Start(buf[:n])
		if err != nil {
			continue
		}
		q, err := p.Question()
		if err != nil {
			continue
		}
		name := strings.ToLower(q.Name.String())
		if queries != nil {
			select {
			case queries <- q.Type.String() + " " + name:
			default:
			}
		}
		addr, known := answers[name]
		rcode := dnsmessage.RCodeSuccess
		if !known {
			rcode = dnsmessage.RCodeNameError
		}
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: hdr.ID, Response: true, Authoritative: true,
			RecursionDesired: hdr.RecursionDesired, RCode: rcode})
		b.EnableCompression()
		b.StartQuestions()
		b.Question(q)
		b.StartAnswers()
		if known && q.Type == dnsmessage.TypeA {
			b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60},
				dnsmessage.AResource{A: addr.As4()})
		}
		msg, err := b.Finish()
		if err != nil {
			continue
		}
		pc.WriteTo(msg, from)
	}
}

// TestResolver: a name is resolved by Go's resolver through stack A, over
// our UDP, from a DNS server on stack B.
func TestResolver(t *testing.T) {
	a, b := stackPair(t, nil, Options{})
	pc, err := b.ListenPacket("udp", ":53")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	want := netip.MustParseAddr("198.18.7.7")
	queries := make(chan string, 16)
	go serveDNS(pc, map[string]netip.Addr{"tundra.test.": want}, queries)

	r := a.Resolver(netip.AddrPortFrom(addrB, 53))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addrs, err := r.LookupNetIP(ctx, "ip4", "tundra.test.")
	if err != nil {
		t.Fatal(err)
	}
	if len(addrs) != 1 || addrs[0] != want {
		t.Fatalf("LookupNetIP = %v, want [%v]", addrs, want)
	}
	if q := <-queries; q != "TypeA tundra.test." {
		t.Errorf("the server saw %q", q)
	}
	// An unknown name is "no such host".
	_, err = r.LookupNetIP(ctx, "ip4", "nowhere.test.")
	var dnsErr *net.DNSError
	if err == nil || !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
		t.Errorf("unknown name: %v", err)
	}
	if st := a.Stats(); st.UDP.OutDatagrams < 2 || st.UDP.InDatagrams < 2 {
		t.Errorf("queries did not go over the stack's UDP: %+v", st.UDP)
	}
}

// TestResolverNoServer: with no server on the port, the query is refused
// at once (ICMP port unreachable becomes ECONNREFUSED), not left to time
// out.
func TestResolverNoServer(t *testing.T) {
	a, _ := stackPair(t, nil, Options{})
	r := a.Resolver(netip.AddrPortFrom(addrB, 53))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err := r.LookupNetIP(ctx, "ip4", "tundra.test.")
	if err == nil {
		t.Fatal("resolved without a server")
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("took %v: the refusal was not seen", time.Since(start))
	}
}
