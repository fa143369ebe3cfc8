package stack_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// Resolve a name through the stack. Here the DNS server is a few lines on
// a second stack; on a TUN it would be a server on the kernel's side.
func ExampleStack_Resolver() {
	a, b := exampleHosts()
	defer a.Close()
	defer b.Close()

	// The server: every A query gets 198.18.0.80.
	pc, err := b.ListenUDP(netip.MustParseAddrPort("0.0.0.0:53"))
	if err != nil {
		panic(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, _ := p.Start(buf[:n])
			q, _ := p.Question()
			ans := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true})
			ans.StartQuestions()
			ans.Question(q)
			ans.StartAnswers()
			if q.Type == dnsmessage.TypeA {
				ans.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60},
					dnsmessage.AResource{A: [4]byte{198, 18, 0, 80}})
			}
			msg, _ := ans.Finish()
			pc.WriteToUDPAddrPort(msg, from)
		}
	}()

	r := a.Resolver(netip.MustParseAddrPort("198.18.0.2:53"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addrs, err := r.LookupNetIP(ctx, "ip4", "www.tundra.test.")
	fmt.Println(addrs, err)
	// Output: [198.18.0.80] <nil>
}
