package stack

import (
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/tundra-net/tundra/ipv4"
	"github.com/tundra-net/tundra/link"
	"github.com/tundra-net/tundra/link/impair"
	"github.com/tundra-net/tundra/tcp"
)

// Tests of TCP under loss and attack, through whole stacks over an
// in-memory link.

var lossSize = flag.Int("loss.mib", 64, "MiB sent by TestTransferUnderLoss at each loss rate")

// oneWay sends size random bytes from c1 to c2 and checks the SHA-256.
func oneWay(t *testing.T, c1, c2 net.Conn, size int, seed uint64) {
	t.Helper()
	var want [32]byte
	errc := make(chan error, 1)
	go func() {
		h := sha256.New()
		rng := rand.New(rand.NewPCG(seed, seed))
		buf := make([]byte, 64<<10)
		for left := size; left > 0; {
			n := min(left, len(buf))
			for i := range buf[:n] {
				buf[i] = byte(rng.Uint32())
			}
			h.Write(buf[:n])
			if _, err := c1.Write(buf[:n]); err != nil {
				errc <- err
				return
			}
			left -= n
		}
		copy(want[:], h.Sum(nil))
		errc <- c1.(*TCPConn).CloseWrite()
	}()
	h := sha256.New()
	n, err := io.Copy(h, c2)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if n != int64(size) || [32]byte(h.Sum(nil)) != want {
		t.Fatalf("received %d of %d bytes, sha256 equal: %v", n, size, [32]byte(h.Sum(nil)) == want)
	}
}

// TestTransferUnderLoss sends 64 MiB at 1%, 5% and 10% loss in each
// direction, with 1% duplication and 2% reordering, and checks the
// SHA-256. It logs the bytes retransmitted against the bytes lost (the
// data packets the link dropped): with SACK and RACK only lost data
// should go again, a small multiple of it at worst.
func TestTransferUnderLoss(t *testing.T) {
	size := *lossSize << 20
	if testing.Short() {
		size = 4 << 20
	}
	for i, loss := range []float64{0.01, 0.05, 0.10} {
		t.Run(fmt.Sprintf("loss %.0f%%", loss*100), func(t *testing.T) {
			dir := func(seed uint64) impair.Config {
				return impair.Config{Write: impair.Direction{Seed: seed, Loss: loss, Duplicate: 0.01, Reorder: 0.02}}
			}
			var ia *impair.Endpoint
			wrap := func(a, b link.Endpoint) (link.Endpoint, link.Endpoint) {
				ia = impair.New(a, dir(uint64(10*i+1)), nil)
				return ia, impair.New(b, dir(uint64(10*i+2)), nil)
			}
			a, b := stackPair(t, wrap, Options{})
			c1, c2 := connPair(t, a, b)
			defer c1.Close()
			defer c2.Close()
			start := time.Now()
			oneWay(t, c1, c2, size, uint64(i+1))
			elapsed := time.Since(start)
			st := c1.Stats()
			link := ia.Stats().Write
			// A's packets are its data segments (a few are pure ACKs); the
			// link drops them at random, so the lost data is the share of
			// the bytes sent that the lost packets were.
			lost := float64(st.BytesSent) * float64(link.Lost) / float64(link.Packets)
			retransmitted := st.BytesSent - int64(size)
			t.Logf("%d MiB in %v (%.0f Mbit/s); link A->B: %d packets, %d lost, %d duplicated, %d reordered",
				size>>20, elapsed.Round(time.Millisecond), float64(size)*8/elapsed.Seconds()/1e6,
				link.Packets, link.Lost, link.Duplicated, link.Reordered)
			t.Logf("retransmitted %d bytes for about %.0f lost: %.2fx; %d retransmissions, %d timeouts, %d recoveries, %d tail loss probes, %d D-SACKs (spurious), SACK %v, timestamps %v, %s",
				retransmitted, lost, float64(retransmitted)/lost, st.Retransmissions, st.Timeouts, st.FastRetransmits,
				st.TailLossProbes, st.DSACKsReceived, st.SACK, st.Timestamps, st.CongestionControl)
			if !st.SACK || !st.Timestamps {
				t.Fatalf("SACK %v, timestamps %v: both should be negotiated between two stacks", st.SACK, st.Timestamps)
			}
			if float64(retransmitted) > 4*lost {
				t.Errorf("retransmitted %d bytes for about %.0f lost", retransmitted, lost)
			}
		})
	}
}

// rawSYN builds an IPv4 packet carrying a SYN from src:port to dst:80.
func rawSYN(src, dst netip.Addr, port uint16, seq tcp.Seq) []byte {
	f := tcp.HeaderFields{SrcPort: port, DstPort: 80, Seq: seq, Flags: tcp.FlagSYN, Window: 65535,
		Options: tcp.Options{HasMSS: true, MSS: 1460, SACKPermitted: true, HasTimestamps: true, TSVal: uint32(seq)}}
	tl := f.Len()
	ip := ipv4.HeaderFields{TTL: 64, Protocol: ipv4.ProtocolTCP, Src: src, Dst: dst, PayloadLength: tl}
	b := make([]byte, ip.Size()+tl)
	n := ip.Encode(b)
	f.Encode(b[n:])
	tcp.SetChecksum(b[n:], src.As4(), dst.As4())
	return b
}

// TestSYNFloodWithCookies sends 20,000 SYNs from spoofed sources into the
// link while 100 real connections are made: the listener's backlog fills
// with half-open connections, further SYNs get cookies and keep no state,
// every real connection succeeds, and the stack holds no more than the
// backlog of half-open connections and no more memory than that.
func TestSYNFloodWithCookies(t *testing.T) {
	var raw link.Endpoint
	wrap := func(a, b link.Endpoint) (link.Endpoint, link.Endpoint) { raw = a; return a, b }
	a, b := stackPair(t, wrap, Options{})
	l, err := b.ListenTCP(netip.AddrPortFrom(netip.Addr{}, 80), DefaultListenBacklog)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	var accepted sync.WaitGroup
	accepted.Add(1)
	acceptedN := 0
	go func() {
		defer accepted.Done()
		for acceptedN < 100 {
			c, err := l.Accept()
			if err != nil {
				return
			}
			// A real client says hello; a cookie connection the flood
			// never completes could not.
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			buf := make([]byte, 5)
			if _, err := io.ReadFull(c, buf); err == nil && string(buf) == "hello" {
				acceptedN++
			}
			c.Close()
		}
	}()

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)

	// The flood: 20,000 SYNs from random addresses in 198.19.0.0/16 (no
	// such hosts; the SYN+ACKs go nowhere), in batches, bounded in count.
	floodDone := make(chan struct{})
	go func() {
		defer close(floodDone)
		rng := rand.New(rand.NewPCG(7, 7))
		batch := make([]link.Packet, 0, 100)
		for i := 0; i < 20000; i++ {
			src := netip.AddrFrom4([4]byte{198, 19, byte(rng.IntN(256)), byte(1 + rng.IntN(254))})
			batch = append(batch, link.Packet{Data: rawSYN(src, addrB, uint16(1024+rng.IntN(60000)), tcp.Seq(rng.Uint32()))})
			if len(batch) == cap(batch) {
				// The pipe drops what does not fit its queue, as a link
				// would: pace the batches so that the flood arrives.
				raw.WritePackets(batch)
				time.Sleep(time.Millisecond)
				batch = batch[:0]
			}
		}
	}()

	var dials sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		dials.Add(1)
		go func() {
			defer dials.Done()
			time.Sleep(time.Duration(i) * time.Millisecond) // spread over the flood
			c, err := a.Dial("tcp", net.JoinHostPort(addrB.String(), "80"))
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			if _, err := c.Write([]byte("hello")); err != nil {
				errs <- err
			}
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			io.Copy(io.Discard, c) // until the server closes
		}()
	}
	dials.Wait()
	<-floodDone
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	accepted.Wait()
	if acceptedN != 100 {
		t.Fatalf("%d of 100 real connections served", acceptedN)
	}
	sent, ok, bad := l.SYNCookieStats()
	b.tcp.mu.RLock()
	held := len(b.tcp.conns)
	b.tcp.mu.RUnlock()
	runtime.GC()
	runtime.ReadMemStats(&after)
	growth := int64(after.HeapInuse) - int64(before.HeapInuse)
	t.Logf("cookies sent %d, valid ACKs %d, invalid %d; connections held %d; heap in use %+d KiB",
		sent, ok, bad, held, growth>>10)
	// The pipe drops what its queue cannot hold (a slow run, -race): count
	// only the segments that reached the stack, less the real clients'
	// (a few hundred).
	reached := int(b.Stats().TCP.InSegs) - 1000
	t.Logf("%d TCP segments reached the server's stack", reached+1000)
	if int(sent) < reached*9/10-DefaultListenBacklog {
		t.Errorf("only %d cookies for about %d SYNs past a backlog of %d", sent, reached, DefaultListenBacklog)
	}
	if held > DefaultListenBacklog+100 {
		t.Errorf("%d connections held: the flood made state past the backlog", held)
	}
	if growth > 32<<20 {
		t.Errorf("heap grew by %d MiB during the flood", growth>>20)
	}
}

// TestBlindRSTAndSYNInjection forges a RST and a SYN inside the window of
// an established connection, as an off-path attacker who guessed the
// window (not RCV.NXT exactly) would: the connection survives, each draws
// a challenge ACK (RFC 5961), and data still flows.
func TestBlindRSTAndSYNInjection(t *testing.T) {
	var raw link.Endpoint
	wrap := func(a, b link.Endpoint) (link.Endpoint, link.Endpoint) { raw = a; return a, b }
	a, b := stackPair(t, wrap, Options{})
	c1, c2 := connPair(t, a, b)
	defer c1.Close()
	defer c2.Close()
	if _, err := c1.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c2, buf); err != nil {
		t.Fatal(err)
	}
	_, rcvNxt := c2.tcb.SequenceNumbers()
	id := c2.id // B's view: local B, remote A
	forge := func(flags tcp.Flags, seq tcp.Seq) {
		f := tcp.HeaderFields{SrcPort: id.RemotePort, DstPort: id.LocalPort, Seq: seq, Flags: flags, Window: 1000}
		tl := f.Len()
		src, dst := netip.AddrFrom4(id.RemoteAddr), netip.AddrFrom4(id.LocalAddr)
		ip := ipv4.HeaderFields{TTL: 64, Protocol: ipv4.ProtocolTCP, Src: src, Dst: dst, PayloadLength: tl}
		p := make([]byte, ip.Size()+tl)
		n := ip.Encode(p)
		f.Encode(p[n:])
		tcp.SetChecksum(p[n:], id.RemoteAddr, id.LocalAddr)
		raw.WritePackets([]link.Packet{{Data: p}})
	}
	forge(tcp.FlagRST, rcvNxt.Add(1000))
	forge(tcp.FlagSYN, rcvNxt.Add(2000))
	deadline := time.Now().Add(5 * time.Second)
	for c2.Stats().ChallengeACKs < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	st := c2.Stats()
	if st.ChallengeACKs != 2 || st.State != tcp.Established {
		t.Fatalf("after the forged RST and SYN: state %v, %d challenge ACKs", st.State, st.ChallengeACKs)
	}
	if _, err := c1.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c2, buf); err != nil || string(buf) != "pong" {
		t.Fatalf("after the attack: %q, %v", buf, err)
	}
}

// lastPacket is a link endpoint that remembers the last packet written
// through it.
type lastPacket struct {
	link.Endpoint
	mu   sync.Mutex
	last []byte
}

func (e *lastPacket) WritePackets(pkts []link.Packet) (int, error) {
	e.mu.Lock()
	if len(pkts) > 0 {
		e.last = append(e.last[:0], pkts[len(pkts)-1].Data...)
	}
	e.mu.Unlock()
	return e.Endpoint.WritePackets(pkts)
}

// TestPAWSThroughTheStack: a segment whose sequence numbers are the next
// expected but whose timestamp is older than one already seen, an old
// duplicate from before a sequence wrap, is dropped (RFC 7323 5.3) and
// never reaches the application.
func TestPAWSThroughTheStack(t *testing.T) {
	var tap *lastPacket
	var raw link.Endpoint
	wrap := func(a, b link.Endpoint) (link.Endpoint, link.Endpoint) {
		tap = &lastPacket{Endpoint: a}
		raw = a
		return tap, b
	}
	a, b := stackPair(t, wrap, Options{})
	c1, c2 := connPair(t, a, b)
	defer c1.Close()
	defer c2.Close()
	buf := make([]byte, 3)
	c1.Write([]byte("one"))
	io.ReadFull(c2, buf)
	tap.mu.Lock()
	old := append([]byte(nil), tap.last...) // carries an early TSval
	tap.mu.Unlock()
	ip, err := ipv4.ParseHeader(old)
	if err != nil {
		t.Fatal(err)
	}
	oldSeg, err := tcp.ParseSegment(ip.Payload())
	if err != nil || !oldSeg.Options.HasTimestamps {
		t.Fatalf("captured segment %v, %v", oldSeg.Options, err)
	}
	// Past the delayed ACK (40 ms): B has acknowledged "one", so the next
	// segment's timestamp becomes TS.Recent (RFC 7323 4.3), and the
	// timestamp clock has moved on.
	time.Sleep(100 * time.Millisecond)
	c1.Write([]byte("two"))
	io.ReadFull(c2, buf)

	_, rcvNxt := c2.tcb.SequenceNumbers()
	f := oldSeg.HeaderFields
	f.Seq = rcvNxt // in the window: only the timestamp gives it away
	f.Flags = tcp.FlagACK | tcp.FlagPSH
	f.Options.SACKBlockCount = 0
	payload := []byte("old")
	tl := f.Len() + len(payload)
	src, dst := netip.AddrFrom4(c2.id.RemoteAddr), netip.AddrFrom4(c2.id.LocalAddr)
	iph := ipv4.HeaderFields{TTL: 64, Protocol: ipv4.ProtocolTCP, Src: src, Dst: dst, PayloadLength: tl}
	p := make([]byte, iph.Size()+tl)
	n := iph.Encode(p)
	f.Encode(p[n:])
	copy(p[n+f.Len():], payload)
	tcp.SetChecksum(p[n:], c2.id.RemoteAddr, c2.id.LocalAddr)
	raw.WritePackets([]link.Packet{{Data: p}})

	deadline := time.Now().Add(5 * time.Second)
	for c2.Stats().PAWSRejected == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if st := c2.Stats(); st.PAWSRejected != 1 || st.ReceiveBuffered != 0 {
		t.Fatalf("PAWS rejected %d, %d bytes buffered", st.PAWSRejected, st.ReceiveBuffered)
	}
	c1.Write([]byte("new"))
	if _, err := io.ReadFull(c2, buf); err != nil || string(buf) != "new" {
		t.Fatalf("after the old duplicate read %q, %v", buf, err)
	}
}
