package stack

import (
	"testing"
	"time"

	"github.com/tundra-net/tundra/tcp"
)

func TestSYNCookieValidation(t *testing.T) {
	k := newSYNCookies()
	id := tcp.FourTuple{LocalAddr: addrB.As4(), RemoteAddr: addrA.As4(), LocalPort: 80, RemotePort: 40000}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const peerISN = tcp.Seq(0xfffffff0) // wraps when the ACK adds one
	for _, mss := range []int{536, 1000, 1460, 9000} {
		cookie := k.make(id, peerISN, mss, now)
		ack := tcp.Segment{HeaderFields: tcp.HeaderFields{Seq: peerISN.Add(1), Ack: cookie.Add(1), Flags: tcp.FlagACK}}
		got, ok := k.check(id, &ack, now.Add(cookiePeriod))
		want := 536
		for _, m := range cookieMSSTable {
			if m <= mss {
				want = m
			}
		}
		if !ok || got != want {
			t.Fatalf("MSS %d: check gave %d, %v; want %d", mss, got, ok, want)
		}
		if _, ok := k.check(id, &ack, now.Add(3*cookiePeriod)); ok {
			t.Fatal("a cookie three periods old was accepted")
		}
		other := id
		other.RemotePort++
		if _, ok := k.check(other, &ack, now); ok {
			t.Fatal("a cookie was accepted for another four-tuple")
		}
		ack.Seq += 1 << 20
		if _, ok := k.check(id, &ack, now); ok {
			t.Fatal("a cookie was accepted with another peer sequence number")
		}
	}
	// Guessing: of 100,000 random ACKs, essentially none pass.
	passed := 0
	for i := range 100000 {
		ack := tcp.Segment{HeaderFields: tcp.HeaderFields{Seq: tcp.Seq(i * 7919), Ack: tcp.Seq(uint32(i) * 2654435761), Flags: tcp.FlagACK}}
		if _, ok := k.check(id, &ack, now); ok {
			passed++
		}
	}
	if passed > 10 { // 2 ages x 4 indexes out of 2^32 per try: about 0.0002 expected
		t.Fatalf("%d of 100,000 random ACKs passed as cookies", passed)
	}
}

func TestCookieCarriesOptionsInTimestamp(t *testing.T) {
	cfg := tcp.DefaultConfig()
	syn := tcp.Segment{HeaderFields: tcp.HeaderFields{SrcPort: 40000, DstPort: 80, Seq: 5000, Flags: tcp.FlagSYN,
		Options: tcp.Options{HasMSS: true, MSS: 1460, HasWindowScale: true, WindowScale: 7, SACKPermitted: true,
			HasTimestamps: true, TSVal: 12345}}}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	synAck := tcp.CookieSYNACK(cfg, &syn, 777, now)
	if !synAck.Options.HasTimestamps || synAck.Options.TSEcr != 12345 || !synAck.Options.SACKPermitted || !synAck.Options.HasWindowScale {
		t.Fatalf("SYN+ACK options %+v", synAck.Options)
	}
	ack := tcp.Segment{HeaderFields: tcp.HeaderFields{Seq: 5001, Ack: 778, Flags: tcp.FlagACK,
		Options: tcp.Options{HasTimestamps: true, TSVal: 12346, TSEcr: synAck.Options.TSVal}}}
	o := tcp.CookieOptionsFromACK(&ack, 1460)
	if o.WindowScale != 7 || !o.SACK || !o.Timestamps || o.MSS != 1460 {
		t.Fatalf("options back from the cookie: %+v", o)
	}
	c := tcp.NewConnFromCookie(cfg, tcp.FourTuple{LocalPort: 80, RemotePort: 40000}, ack, o, discardOutput{}, now)
	c.HandleSegment(ack, now)
	st := c.Stats()
	if st.State != tcp.Established || !st.SACK || !st.Timestamps || st.SendWindowShift != 7 {
		t.Fatalf("cookie connection %+v", st)
	}
}

type discardOutput struct{}

func (discardOutput) SendSegment(tcp.FourTuple, tcp.HeaderFields, tcp.Payload) {}
