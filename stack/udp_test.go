package stack

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/tundra-net/tundra/ipv4"
	"github.com/tundra-net/tundra/link"
	"github.com/tundra-net/tundra/udp"
)

// udpEchoServer echoes every datagram on c back to its sender until c is
// closed.
func udpEchoServer(c *UDPConn) {
	buf := make([]byte, 65536)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		c.WriteToUDPAddrPort(buf[:n], from)
	}
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31) ^ seed
	}
	return b
}

// TestUDPEcho: a connected socket on A talks to an echo server on B, with
// datagrams from empty to 60,000 bytes; those over the MTU are fragmented
// on the way out and reassembled on the way in, both ways.
func TestUDPEcho(t *testing.T) {
	a, b := stackPair(t, nil, Options{})
	pc, err := b.ListenPacket("udp", ":7")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go udpEchoServer(pc.(*UDPConn))

	c, err := a.Dial("udp", net.JoinHostPort(addrB.String(), "7"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 65536)
	sizes := []int{0, 1, 100, 1472, 1473, 3000, 8192, 60000, udp.MaxIPv4Payload}
	for i, size := range sizes {
		msg := pattern(size, byte(i))
		if n, err := c.Write(msg); err != nil || n != size {
			t.Fatalf("write %d: %d, %v", size, n, err)
		}
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("read %d: %v", size, err)
		}
		if !bytes.Equal(buf[:n], msg) {
			t.Fatalf("size %d: echoed %d bytes differ", size, n)
		}
	}
	if got := c.RemoteAddr().String(); got != "198.18.0.2:7" {
		t.Errorf("RemoteAddr %s", got)
	}
	// Datagrams over 1472 bytes left in fragments, both ways.
	big := 0
	for _, s := range sizes {
		if s > 1472 {
			big++
		}
	}
	// The counters of the last echo may trail its delivery by a moment.
	eventually(t, func() bool {
		return a.Stats().UDP.InDatagrams == uint64(len(sizes)) && b.Stats().UDP.InDatagrams == uint64(len(sizes))
	})
	for name, st := range map[string]Stats{"A": a.Stats(), "B": b.Stats()} {
		if st.IP.FragOKs != uint64(big) || st.IP.ReasmOKs != uint64(big) || st.IP.ReasmFails != 0 {
			t.Errorf("%s: FragOKs %d ReasmOKs %d ReasmFails %d, want %d %d 0", name,
				st.IP.FragOKs, st.IP.ReasmOKs, st.IP.ReasmFails, big, big)
		}
		if st.UDP.InDatagrams != uint64(len(sizes)) || st.UDP.OutDatagrams != uint64(len(sizes)) {
			t.Errorf("%s: UDP %+v", name, st.UDP)
		}
		if st.IP.FragCreates < 2*uint64(big) {
			t.Errorf("%s: FragCreates %d", name, st.IP.FragCreates)
		}
	}
	if n, _ := a.ReassemblyPending(); n != 0 {
		t.Errorf("%d datagrams left in reassembly", n)
	}
	// Too large for IPv4 at all.
	if _, err := c.Write(make([]byte, udp.MaxIPv4Payload+1)); !errors.Is(err, syscall.EMSGSIZE) {
		t.Errorf("oversized write: %v", err)
	}
}

// TestUDPPacketConn: unconnected sockets on both sides, ReadFrom and
// WriteTo with net.Addr, and the errors of the wrong calls.
func TestUDPPacketConn(t *testing.T) {
	a, b := stackPair(t, nil, Options{})
	pa, err := a.ListenPacket("udp4", "198.18.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pb, err := b.ListenPacket("udp", ":5000")
	if err != nil {
		t.Fatal(err)
	}
	defer pa.Close()
	defer pb.Close()
	to := &net.UDPAddr{IP: net.IP(addrB.AsSlice()), Port: 5000}
	if _, err := pa.WriteTo([]byte("ping"), to); err != nil {
		t.Fatal(err)
	}
	pb.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 100)
	n, from, err := pb.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "ping" || from.String() != pa.LocalAddr().String() {
		t.Fatalf("ReadFrom: %q from %v, %v (want from %v)", buf[:n], from, err, pa.LocalAddr())
	}
	if _, err := pb.WriteTo([]byte("pong"), from); err != nil {
		t.Fatal(err)
	}
	pa.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, _, err := pa.ReadFrom(buf); err != nil || string(buf[:n]) != "pong" {
		t.Fatalf("reply: %q %v", buf[:n], err)
	}
	// A short buffer gets the start of the datagram, the rest discarded.
	pa.WriteTo([]byte("0123456789"), to)
	if n, _, err := pb.ReadFrom(buf[:4]); err != nil || string(buf[:n]) != "0123" {
		t.Fatalf("short read: %q %v", buf[:n], err)
	}
	// Write on an unconnected socket: no destination.
	if _, err := pa.(*UDPConn).Write([]byte("x")); !errors.Is(err, syscall.EDESTADDRREQ) {
		t.Errorf("Write unconnected: %v", err)
	}
	// WriteTo on a connected socket.
	c, _ := a.DialUDP(netip.AddrPortFrom(addrB, 5000))
	defer c.Close()
	if _, err := c.WriteTo([]byte("x"), to); !errors.Is(err, net.ErrWriteToConnected) {
		t.Errorf("WriteTo connected: %v", err)
	}
	// The port is taken; another address of nobody's is not ours.
	if _, err := b.ListenPacket("udp", ":5000"); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("second bind: %v", err)
	}
	if _, err := b.ListenPacket("udp", "198.18.0.1:5001"); !errors.Is(err, syscall.EADDRNOTAVAIL) {
		t.Errorf("bind to another host's address: %v", err)
	}
	if _, err := b.ListenPacket("tcp", ":1"); err == nil {
		t.Error("ListenPacket tcp accepted")
	}
	// After Close the port is free and calls fail with net.ErrClosed.
	pb.Close()
	if _, _, err := pb.ReadFrom(buf); !errors.Is(err, net.ErrClosed) {
		t.Errorf("read after close: %v", err)
	}
	p2, err := b.ListenPacket("udp", ":5000")
	if err != nil {
		t.Fatalf("rebind after close: %v", err)
	}
	p2.Close()
}

// TestUDPPortUnreachable: a datagram to a closed port draws ICMP port
// unreachable, which the connected sender sees as ECONNREFUSED on its next
// read, once.
func TestUDPPortUnreachable(t *testing.T) {
	a, b := stackPair(t, nil, Options{})
	c, err := a.Dial("udp", net.JoinHostPort(addrB.String(), "9999"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("anyone?")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Read(make([]byte, 10))
	var opErr *net.OpError
	if !errors.Is(err, syscall.ECONNREFUSED) || !errors.As(err, &opErr) || opErr.Op != "read" || opErr.Net != "udp" {
		t.Fatalf("read after port unreachable: %v", err)
	}
	// Reported once: the next read waits for its deadline.
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := c.Read(make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("second read: %v", err)
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Errorf("deadline error is not a net.Error timeout: %v", err)
	}
	// The error also reaches a writer: send again, wait for the ICMP.
	c.Write([]byte("again"))
	deadline := time.Now().Add(5 * time.Second)
	for b.Stats().UDP.NoPorts < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	for a.Stats().ICMP.InDestUnreachs < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if _, err := c.Write([]byte("third")); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("write after the second port unreachable: %v", err)
	}
	if st := b.Stats(); st.UDP.NoPorts != 2 || st.ICMP.OutDestUnreachs != 3 && st.ICMP.OutDestUnreachs != 2 {
		t.Errorf("B: NoPorts %d OutDestUnreachs %d", st.UDP.NoPorts, st.ICMP.OutDestUnreachs)
	}
}

// eventually waits up to five seconds for cond to hold.
func eventually(t testing.TB, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// udpPacket builds a UDP datagram from the harness's peer to the stack.
func udpPacket(srcPort, dstPort uint16, payload []byte) []byte {
	b := make([]byte, udp.HeaderLen+len(payload))
	copy(b[udp.HeaderLen:], payload)
	udp.HeaderFields{SourcePort: srcPort, DestinationPort: dstPort}.Encode(b, peerAddr.As4(), stackAddr.As4())
	return ipPacket(ipv4.ProtocolUDP, b)
}

// TestUDPInputChecks: checksums (zero accepted as none), malformed
// lengths, closed ports and the ICMP they draw, each counted.
func TestUDPInputChecks(t *testing.T) {
	h := newHarness(t, Options{})
	sock, err := h.s.ListenUDP(netip.AddrPortFrom(netip.IPv4Unspecified(), 53))
	if err != nil {
		t.Fatal(err)
	}
	good := udpPacket(1000, 53, []byte("query"))
	bad := bytes.Clone(good)
	bad[len(bad)-1] ^= 1
	noSum := bytes.Clone(good)
	noSum[26], noSum[27] = 0, 0
	short := bytes.Clone(good)
	binary.BigEndian.PutUint16(short[24:26], 4) // UDP length below the header
	closed := udpPacket(1000, 54, []byte("nobody"))

	h.send(good, bad, noSum, short, closed)
	st := h.s.Stats()
	if st.UDP.InDatagrams != 2 || st.UDP.InCsumErrors != 1 || st.UDP.InErrors != 2 || st.UDP.NoPorts != 1 {
		t.Errorf("UDP counters %+v", st.UDP)
	}
	for _, r := range []DropReason{DropUDPBadChecksum, DropUDPMalformed, DropUDPNoSocket} {
		if st.Drop(r) != 1 {
			t.Errorf("drop %q = %d", r, st.Drop(r))
		}
	}
	if n, _ := sock.Queued(); n != 2 {
		t.Errorf("%d queued, want 2", n)
	}
	// The closed port drew one ICMP port unreachable quoting the datagram.
	out := h.recv()
	if len(out) != 1 {
		t.Fatalf("%d packets sent, want 1 ICMP", len(out))
	}
	ip, _ := ipv4.ParseHeader(out[0])
	msg, _ := ipv4.ParseICMP(ip.Payload())
	if msg.Type() != ipv4.ICMPDestinationUnreachable || msg.Code() != ipv4.UnreachablePort {
		t.Fatalf("sent %v", msg)
	}
	if q, _ := msg.Quoted(); !bytes.Equal(q.Bytes(), closed) {
		t.Error("the quote is not the offending datagram")
	}
}

// TestUDPPortUnreachableRateLimited: a flood to a closed port draws at
// most the ICMP error burst.
func TestUDPPortUnreachableRateLimited(t *testing.T) {
	h := newHarness(t, Options{ICMPErrorRate: 10, ICMPErrorBurst: 3})
	for range 20 {
		h.send(udpPacket(1000, 9, []byte("x")))
	}
	if out := h.recv(); len(out) != 3 {
		t.Errorf("%d ICMP errors for 20 datagrams, want the burst of 3", len(out))
	}
	if st := h.s.Stats(); st.UDP.NoPorts != 20 || st.ICMP.OutRateLimited != 17 {
		t.Errorf("NoPorts %d OutRateLimited %d", st.UDP.NoPorts, st.ICMP.OutRateLimited)
	}
}

// TestUDPQueueOverflow: past the queue's datagram or byte limit, arrivals
// are dropped and counted; reading makes room again.
func TestUDPQueueOverflow(t *testing.T) {
	h := newHarness(t, Options{UDPReceiveQueueLength: 4})
	sock, err := h.s.ListenUDP(netip.AddrPortFrom(stackAddr, 9))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		h.send(udpPacket(1000, 9, []byte{byte(i)}))
	}
	st := h.s.Stats()
	if st.UDP.InDatagrams != 4 || st.UDP.RcvbufErrors != 6 || st.Drop(DropUDPQueueFull) != 6 {
		t.Errorf("datagram limit: %+v", st.UDP)
	}
	buf := make([]byte, 10)
	for i := range 4 { // the first four, in order
		n, _, err := sock.ReadFromUDPAddrPort(buf)
		if err != nil || n != 1 || buf[0] != byte(i) {
			t.Fatalf("read %d: %v %v", i, buf[:n], err)
		}
	}
	// The byte limit: 1000-byte datagrams into a 2500-byte buffer.
	sock.SetReadBuffer(2500)
	for range 5 {
		h.send(udpPacket(1000, 9, make([]byte, 1000)))
	}
	if n, bytes := sock.Queued(); n != 2 || bytes != 2000 {
		t.Errorf("byte limit: %d datagrams, %d bytes queued", n, bytes)
	}
	if st := h.s.Stats(); st.UDP.RcvbufErrors != 9 {
		t.Errorf("RcvbufErrors %d, want 9", st.UDP.RcvbufErrors)
	}
}

// TestUDPReadDeadline uses the virtual clock: a read waits until the
// deadline the clock reaches.
func TestUDPReadDeadline(t *testing.T) {
	h := newHarness(t, Options{})
	sock, _ := h.s.ListenUDP(netip.AddrPortFrom(stackAddr, 9))
	sock.SetReadDeadline(h.clk.Now().Add(time.Second))
	done := make(chan error, 1)
	go func() {
		_, _, err := sock.ReadFromUDPAddrPort(make([]byte, 10))
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("read returned before the deadline: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	h.clk.Advance(time.Second)
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("read still blocked after the deadline")
	}
	// Moving the deadline away lets a read succeed again.
	sock.SetReadDeadline(time.Time{})
	h.send(udpPacket(1, 9, []byte("late")))
	if n, _, err := sock.ReadFromUDPAddrPort(make([]byte, 10)); err != nil || n != 4 {
		t.Fatalf("read after clearing: %d %v", n, err)
	}
	// A past write deadline fails writes.
	sock.SetWriteDeadline(h.clk.Now().Add(-time.Second))
	if _, err := sock.WriteToUDPAddrPort([]byte("x"), netip.AddrPortFrom(peerAddr, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("write after the deadline: %v", err)
	}
}

// TestUDPNoAllocation: receiving, reading and sending a datagram that fits
// the MTU allocates nothing once the socket's queue has its buffers.
func TestUDPNoAllocation(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	h := newHarness(t, Options{})
	sock, _ := h.s.ListenUDP(netip.AddrPortFrom(stackAddr, 9))
	pkt := []link.Packet{{Data: udpPacket(1000, 9, make([]byte, 1000))}}
	buf := make([]byte, 2000)
	to := netip.AddrPortFrom(peerAddr, 1000)
	drain := make([]link.Packet, 4)
	for i := range drain {
		drain[i].Data = make([]byte, 1500)
	}
	step := func() {
		h.s.DeliverPackets(pkt)
		n, from, err := sock.ReadFromUDPAddrPort(buf)
		if err != nil || n != 1000 {
			t.Fatal(n, err)
		}
		sock.WriteToUDPAddrPort(buf[:n], from)
		sock.WriteToUDPAddrPort(buf[:n], to)
		for i := range drain {
			drain[i].Data = drain[i].Data[:cap(drain[i].Data)]
		}
		h.peer.PollPackets(drain)
	}
	step()
	if n := testing.AllocsPerRun(200, step); n != 0 {
		t.Errorf("%v allocations per datagram received and sent", n)
	}
}

// fragmentsOf builds a UDP datagram from the peer with payload and cuts it
// into fragments at mtu.
func fragmentsOf(t testing.TB, id uint16, payload []byte, mtu int) [][]byte {
	t.Helper()
	d := udpPacket(1000, 9, payload)
	binary.BigEndian.PutUint16(d[4:6], id)
	ip, _ := ipv4.ParseHeader(d)
	ip.UpdateChecksum()
	f, err := ipv4.NewFragmenter(ip, mtu)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for {
		b := make([]byte, mtu)
		n := f.Next(b)
		if n == 0 {
			return out
		}
		out = append(out, b[:n])
	}
}

// TestReassemblyInStack drives the stack's reassembly with the virtual
// clock: a complete datagram is delivered; one missing a fragment expires
// after 30 s with ICMP time exceeded (it had its first fragment); one
// missing its first fragment expires silently; overlaps are dropped and
// counted.
func TestReassemblyInStack(t *testing.T) {
	h := newHarness(t, Options{})
	sock, _ := h.s.ListenUDP(netip.AddrPortFrom(stackAddr, 9))
	payload := pattern(5000, 1)
	frags := fragmentsOf(t, 1, payload, 1500)
	h.send(frags[3], frags[1], frags[0], frags[2])
	buf := make([]byte, 10000)
	if n, _, err := sock.ReadFromUDPAddrPort(buf); err != nil || !bytes.Equal(buf[:n], payload) {
		t.Fatalf("reassembled datagram: %d bytes, %v", n, err)
	}

	noLast := fragmentsOf(t, 2, payload, 1500)
	h.send(noLast[:3]...)
	noFirst := fragmentsOf(t, 3, payload, 1500)
	h.send(noFirst[1:]...)
	if n, _ := h.s.ReassemblyPending(); n != 2 {
		t.Fatalf("%d pending", n)
	}
	h.clk.Advance(29 * time.Second)
	if out := h.recv(); len(out) != 0 {
		t.Fatalf("%d packets before the timeout", len(out))
	}
	h.clk.Advance(2 * time.Second)
	out := h.recv()
	if len(out) != 1 {
		t.Fatalf("%d packets after the timeout, want one ICMP", len(out))
	}
	ip, _ := ipv4.ParseHeader(out[0])
	msg, _ := ipv4.ParseICMP(ip.Payload())
	q, _ := msg.Quoted()
	if msg.Type() != ipv4.ICMPTimeExceeded || msg.Code() != ipv4.TimeExceededReassembly || q.ID() != 2 {
		t.Fatalf("sent %v quoting %v", msg, q)
	}
	if n, mem := h.s.ReassemblyPending(); n != 0 || mem != 0 {
		t.Errorf("after expiry: %d pending, %d bytes", n, mem)
	}

	// Overlap: the same fragment, altered, at the same offset.
	ov := fragmentsOf(t, 4, payload, 1500)
	evil := bytes.Clone(ov[1])
	evil[len(evil)-1] ^= 0xff
	h.send(ov[0], ov[1], evil, ov[2], ov[3])
	st := h.s.Stats()
	if st.IP.ReasmOKs != 1 || st.IP.ReasmTimeout != 2 || st.IP.ReasmOverlaps != 1 || st.IP.ReasmFails != 3 ||
		st.Drop(DropFragmentOverlap) != 1 {
		t.Errorf("IP counters %+v overlap drops %d", st.IP, st.Drop(DropFragmentOverlap))
	}
	if st.IP.ReasmReqds != uint64(4+3+3+5) {
		t.Errorf("ReasmReqds %d", st.IP.ReasmReqds)
	}
	if n, _ := sock.Queued(); n != 0 {
		t.Errorf("an overlapped datagram was delivered")
	}
}

// TestReassemblyFloodInStack: random, overlapping and never completed
// fragments from many sources never hold more than the memory cap, and
// expire on the virtual clock.
func TestReassemblyFloodInStack(t *testing.T) {
	const limit = 512 << 10
	h := newHarness(t, Options{Reassembly: ipv4.ReassemblyLimits{MaxMemory: limit}, ICMPErrorRate: -1})
	payload := pattern(20000, 3)
	for id := range 300 {
		frags := fragmentsOf(t, uint16(id), payload, 1500)
		// Every datagram misses one fragment; some get an overlapping one.
		skip := id % len(frags)
		for i, f := range frags {
			if i != skip {
				h.send(f)
			}
		}
		if id%7 == 0 {
			bad := bytes.Clone(frags[(skip+1)%len(frags)])
			bad[len(bad)-1] ^= 1
			h.send(bad)
		}
		if _, mem := h.s.ReassemblyPending(); mem > limit {
			t.Fatalf("datagram %d: %d bytes held, over the cap of %d", id, mem, limit)
		}
		h.clk.Advance(50 * time.Millisecond)
	}
	h.clk.Advance(31 * time.Second)
	if n, mem := h.s.ReassemblyPending(); n != 0 || mem != 0 {
		t.Errorf("after the timeout: %d pending, %d bytes", n, mem)
	}
	st := h.s.Stats()
	if st.IP.ReasmOKs != 0 || st.IP.ReasmFails == 0 || st.IP.ReasmOverlaps == 0 || st.IP.ReasmTimeout == 0 {
		t.Errorf("IP counters %+v", st.IP)
	}
}

func BenchmarkUDPEcho(b *testing.B) {
	for _, size := range []int{64, 1400, 60000} {
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			sa, sb := stackPair(b, nil, Options{})
			srv, _ := sb.ListenUDP(netip.AddrPortFrom(netip.IPv4Unspecified(), 7))
			defer srv.Close()
			go udpEchoServer(srv)
			c, _ := sa.DialUDP(netip.AddrPortFrom(addrB, 7))
			defer c.Close()
			msg := make([]byte, size)
			buf := make([]byte, 65536)
			b.SetBytes(int64(2 * size))
			b.ReportAllocs()
			for b.Loop() {
				c.Write(msg)
				c.SetReadDeadline(time.Now().Add(time.Second))
				if _, err := c.Read(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
