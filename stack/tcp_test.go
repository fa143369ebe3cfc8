package stack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tundra-net/tundra/ipv4"
	"github.com/tundra-net/tundra/link"
	"github.com/tundra-net/tundra/link/pipe"
	"github.com/tundra-net/tundra/tcp"
)

var (
	addrA = netip.MustParseAddr("198.18.0.1")
	addrB = netip.MustParseAddr("198.18.0.2")
)

// stackPair makes two stacks, A and B, joined by an in-memory pipe, each
// with its own pump, as two hosts on one link.
func stackPair(t testing.TB, wrap func(a, b link.Endpoint) (link.Endpoint, link.Endpoint), opts Options) (*Stack, *Stack) {
	t.Helper()
	return stackPairWrapped(t, wrap, opts, opts)
}

// stackPairWith is stackPair with different options for A and B.
func stackPairWith(t testing.TB, oa, ob Options) (*Stack, *Stack) {
	t.Helper()
	return stackPairWrapped(t, nil, oa, ob)
}

func stackPairWrapped(t testing.TB, wrap func(a, b link.Endpoint) (link.Endpoint, link.Endpoint), oa, ob Options) (*Stack, *Stack) {
	t.Helper()
	ea, eb := pipe.New(pipe.Options{QueueLen: 4096})
	var la, lb link.Endpoint = ea, eb
	if wrap != nil {
		la, lb = wrap(ea, eb)
	}
	oa.Addresses = []netip.Addr{addrA}
	ob.Addresses = []netip.Addr{addrB}
	a, err := New(la, oa)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(lb, ob)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// connPair returns a connected pair: c1 dialed from A, c2 accepted on B.
func connPair(t testing.TB, a, b *Stack) (*TCPConn, *TCPConn) {
	t.Helper()
	l, err := b.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() { c, err := l.Accept(); ch <- res{c, err} }()
	c1, err := a.Dial("tcp", net.JoinHostPort(addrB.String(), portOf(l.Addr())))
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	return c1.(*TCPConn), r.c.(*TCPConn)
}

func portOf(a net.Addr) string {
	return strconv.Itoa(int(netip.MustParseAddrPort(a.String()).Port()))
}

func TestDialListenEcho(t *testing.T) {
	a, b := stackPair(t, nil, Options{})
	c1, c2 := connPair(t, a, b)
	if c1.State() != tcp.Established || c2.State() != tcp.Established {
		t.Fatalf("states %v %v", c1.State(), c2.State())
	}
	msg := []byte("hello, tundra")
	if _, err := c1.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c2, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("read %q, %v", got, err)
	}
	if c1.RemoteAddr().String() != c2.LocalAddr().String() || c1.LocalAddr().String() != c2.RemoteAddr().String() {
		t.Errorf("addresses: %v %v / %v %v", c1.LocalAddr(), c1.RemoteAddr(), c2.LocalAddr(), c2.RemoteAddr())
	}
	// Half-close: c1 sends FIN, c2 reads EOF and can still write back.
	if err := c1.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if n, err := c2.Read(got); n != 0 || err != io.EOF {
		t.Fatalf("after FIN: %d, %v", n, err)
	}
	if _, err := c2.Write([]byte("bye")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c1, got[:3]); err != nil || string(got[:3]) != "bye" {
		t.Fatalf("half-closed read: %q %v", got[:3], err)
	}
	c2.Close()
	c1.Close()
	if st := a.Stats(); st.TCP.ActiveOpens != 1 {
		t.Errorf("A counters %+v", st.TCP)
	}
	if st := b.Stats(); st.TCP.PassiveOpens != 1 {
		t.Errorf("B counters %+v", st.TCP)
	}
}

func TestDialRefused(t *testing.T) {
	a, _ := stackPair(t, nil, Options{})
	_, err := a.Dial("tcp", addrB.String()+":9")
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial to a closed port: %v, want ECONNREFUSED", err)
	}
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		t.Fatalf("not a *net.OpError: %#v", err)
	}
	if n := a.ConnectionCount(); n != 0 {
		t.Errorf("%d connections left", n)
	}
}

func TestDialContextCancel(t *testing.T) {
	// B drops every packet: the SYN goes unanswered until ctx ends.
	blackhole := func(a, b link.Endpoint) (link.Endpoint, link.Endpoint) { return a, dropAll{b} }
	a, _ := stackPair(t, blackhole, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := a.DialContext(ctx, "tcp", addrB.String()+":80")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("dial: %v, want context deadline", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("cancel took %v", time.Since(start))
	}
	if n := a.ConnectionCount(); n != 0 {
		t.Errorf("%d connections left", n)
	}
}

// dropAll is an endpoint whose incoming packets all vanish.
type dropAll struct{ link.Endpoint }

func (d dropAll) ReadPackets(p []link.Packet) (int, error) {
	for {
		n, err := d.Endpoint.ReadPackets(p)
		if err != nil {
			return 0, err
		}
		_ = n
	}
}

func TestReadDeadline(t *testing.T) {
	a, b := stackPair(t, nil, Options{})
	c1, _ := connPair(t, a, b)
	c1.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := c1.Read(make([]byte, 10))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past deadline: %v", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("not a timeout net.Error: %v", err)
	}
}

func TestResetSurfacesAsECONNRESET(t *testing.T) {
	a, b := stackPair(t, nil, Options{})
	c1, c2 := connPair(t, a, b)
	c2.SetLinger(0)
	c2.Close() // RST
	c1.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c1.Read(make([]byte, 10))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read after peer's RST: %v", err)
	}
}

// transfer sends size random bytes each way at once and checks both
// directions' sha256.
func transfer(t *testing.T, c1, c2 net.Conn, size int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	send := func(c net.Conn, seed uint64, sum *[32]byte) {
		defer wg.Done()
		h := sha256.New()
		rng := rand.New(rand.NewPCG(seed, seed))
		buf := make([]byte, 64<<10)
		for left := size; left > 0; {
			n := min(left, len(buf), 1+rng.IntN(len(buf)))
			for i := range buf[:n] {
				buf[i] = byte(rng.Uint32())
			}
			h.Write(buf[:n])
			if _, err := c.Write(buf[:n]); err != nil {
				errs <- err
				return
			}
			left -= n
		}
		if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
			errs <- err
		}
		copy(sum[:], h.Sum(nil))
	}
	recv := func(c net.Conn, sum *[32]byte, n *int64) {
		defer wg.Done()
		h := sha256.New()
		var err error
		*n, err = io.Copy(h, c)
		if err != nil {
			errs <- err
		}
		copy(sum[:], h.Sum(nil))
	}
	var sent1, sent2, got1, got2 [32]byte
	var n1, n2 int64
	wg.Add(4)
	go send(c1, 1, &sent1)
	go send(c2, 2, &sent2)
	go recv(c2, &got1, &n1)
	go recv(c1, &got2, &n2)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n1 != int64(size) || n2 != int64(size) || sent1 != got1 || sent2 != got2 {
		t.Fatalf("transfer damaged: got %d and %d bytes of %d; sums equal: %v %v", n1, n2, size, sent1 == got1, sent2 == got2)
	}
}

func TestTransferBothWays(t *testing.T) {
	a, b := stackPair(t, nil, Options{})
	c1, c2 := connPair(t, a, b)
	transfer(t, c1, c2, 8<<20)
	c1.Close()
	c2.Close()
}

// TestConnectCloseCyclesLeaveNothing makes 1,000 connections, each opened,
// used and closed, and checks that no connection, timer or goroutine is
// left once TIME-WAIT has passed.
func TestConnectCloseCyclesLeaveNothing(t *testing.T) {
	cfg := tcp.DefaultConfig()
	cfg.MSL = 5 * time.Millisecond
	a, b := stackPair(t, nil, Options{TCP: cfg})
	l, err := b.Listen("tcp", ":7")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	baseline := runtime.NumGoroutine()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			io.Copy(c, c)
			c.Close()
		}
	}()
	cycles := 1000
	if testing.Short() {
		cycles = 100
	}
	buf := make([]byte, 4)
	for i := range cycles {
		c, err := a.Dial("tcp", addrB.String()+":7")
		if err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for a.ConnectionCount()+b.ConnectionCount() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := a.ConnectionCount() + b.ConnectionCount(); n != 0 {
		t.Fatalf("%d connections left after %d cycles", n, cycles)
	}
	// One goroutine (the accept loop) is ours; allow it.
	for runtime.NumGoroutine() > baseline+1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > baseline+1 {
		t.Fatalf("goroutines: %d, baseline %d", g, baseline)
	}
	st := a.Stats().TCP
	if st.ActiveOpens != uint64(cycles) || st.CurrEstab != 0 {
		t.Errorf("A counters %+v", st)
	}
}

func TestTCPConnectionsListing(t *testing.T) {
	a, b := stackPair(t, nil, Options{})
	c1, _ := connPair(t, a, b)
	c1.Write([]byte("x"))
	infos := a.TCPConnections()
	if len(infos) != 1 || infos[0].State != tcp.Established || infos[0].Remote.Addr() != addrB {
		t.Fatalf("listing %+v", infos)
	}
	if s := infos[0].String(); !strings.Contains(s, "ESTABLISHED") || !strings.Contains(s, "cwnd:") {
		t.Errorf("ss line %q", s)
	}
}

// TestListenerCloseDropsHalfOpenSilently: closing a listener drops its
// SYN-RECEIVED connections without a RST, as BSD and Linux do; the peer's
// next segment then finds a closed port.
func TestListenerCloseDropsHalfOpenSilently(t *testing.T) {
	h := newHarness(t, Options{})
	l, err := h.s.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	syn := tcp.HeaderFields{SrcPort: 4000, DstPort: 80, Seq: 1000, Flags: tcp.FlagSYN, Window: 65535,
		Options: tcp.Options{HasMSS: true, MSS: 1460}}
	seg := make([]byte, syn.Len())
	if _, err := syn.Encode(seg); err != nil {
		t.Fatal(err)
	}
	tcp.SetChecksum(seg, peerAddr.As4(), stackAddr.As4())
	h.send(ipPacket(ipv4.ProtocolTCP, seg))
	if out := h.recv(); len(out) != 1 {
		t.Fatalf("%d answers to the SYN, want a SYN+ACK", len(out))
	}
	l.Close()
	if out := h.recv(); len(out) != 0 {
		t.Fatalf("closing the listener sent %d packets, want none", len(out))
	}
	if n := h.s.ConnectionCount(); n != 0 {
		t.Fatalf("%d connections left", n)
	}
}

// TestMaxTCPConnectionsBoundsDials: the connection cap counts connections
// the stack opens itself. Past it, Dial fails at once with ENOBUFS and
// sends nothing; once a connection is gone, dialing works again.
func TestMaxTCPConnectionsBoundsDials(t *testing.T) {
	const maxConns = 4
	a, b := stackPairWith(t, Options{MaxTCPConnections: maxConns}, Options{})
	ln, err := b.Listen("tcp", ":7")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns []net.Conn
	for range maxConns {
		c, err := a.Dial("tcp", "198.18.0.2:7")
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	segsBefore := a.Stats().TCP.OutSegs
	_, err = a.Dial("tcp", "198.18.0.2:7")
	if !errors.Is(err, syscall.ENOBUFS) {
		t.Fatalf("dial past the cap: got %v, want ENOBUFS", err)
	}
	if got := a.Stats().TCP.OutSegs; got != segsBefore {
		t.Errorf("a refused dial sent %d segments", got-segsBefore)
	}
	if n := a.ConnectionCount(); n != maxConns {
		t.Errorf("ConnectionCount = %d, want %d", n, maxConns)
	}
	// Abortive close (SO_LINGER 0) frees the slot at once, with no TIME-WAIT.
	conns[0].(*TCPConn).SetLinger(0)
	conns[0].Close()
	c, err := a.Dial("tcp", "198.18.0.2:7")
	if err != nil {
		t.Fatalf("dial after a slot was freed: %v", err)
	}
	conns = append(conns[1:], c)
	for _, c := range conns {
		c.Close()
	}
}

// TestTimeWaitReopensOnlyAfterClose: a SYN beyond RCV.NXT may reopen a
// connection from TIME-WAIT (RFC 1122 4.2.2.13) only once the application
// has closed its socket. While the socket is open (it only shut down its
// sending side), the connection answers the SYN itself: a challenge ACK
// (RFC 9293 3.10.7.4, fourth step).
func TestTimeWaitReopensOnlyAfterClose(t *testing.T) {
	h := newHarness(t, Options{})
	l, err := h.s.ListenTCP(netip.AddrPortFrom(netip.Addr{}, 80), 4)
	if err != nil {
		t.Fatal(err)
	}
	h.send(tcpPacket(t, 4000, 80, 1000, 0, tcp.FlagSYN, nil, 1460))
	out := h.recv()
	if len(out) != 1 {
		t.Fatalf("%d answers to the SYN", len(out))
	}
	iss := parseTCP(t, out[0]).Seq
	h.send(tcpPacket(t, 4000, 80, 1001, iss+1, tcp.FlagACK, nil, 0))
	c := l.TryAcceptTCP()
	if c == nil {
		t.Fatal("no connection to accept")
	}
	c.CloseWrite()
	if out := h.recv(); len(out) != 1 || parseTCP(t, out[0]).Flags&tcp.FlagFIN == 0 {
		t.Fatalf("CloseWrite sent %d packets, want our FIN", len(out))
	}
	h.send(tcpPacket(t, 4000, 80, 1001, iss+2, tcp.FlagFIN|tcp.FlagACK, nil, 0))
	h.recv()
	if c.State() != tcp.TimeWait {
		t.Fatalf("state %v, want TIME-WAIT", c.State())
	}

	h.send(tcpPacket(t, 4000, 80, 1000+100000, 0, tcp.FlagSYN, nil, 1460))
	out = h.recv()
	if len(out) != 1 || parseTCP(t, out[0]).Flags != tcp.FlagACK {
		t.Fatalf("SYN to the open socket's TIME-WAIT: %d packets %v, want a challenge ACK", len(out), out)
	}
	if c.State() != tcp.TimeWait {
		t.Fatalf("state %v after the SYN, want TIME-WAIT", c.State())
	}

	c.Close()
	h.send(tcpPacket(t, 4000, 80, 1000+200000, 0, tcp.FlagSYN, nil, 1460))
	out = h.recv()
	if len(out) != 1 || parseTCP(t, out[0]).Flags != tcp.FlagSYN|tcp.FlagACK {
		t.Fatalf("SYN after close: %d packets, want a SYN+ACK reopening the connection", len(out))
	}
}

// TestECNThroughTheIPHeader: the ECN codepoint travels between the IPv4
// header and the TCP connection both ways (RFC 3168 section 5). An
// ECN-setup SYN is answered with an ECN-setup SYN-ACK (the default,
// tcp.ECNAccept); a data segment marked CE in its IP header draws an ACK
// with ECE; our data goes out as ECT(0) and our pure ACKs as Not-ECT.
func TestECNThroughTheIPHeader(t *testing.T) {
	h := newHarness(t, Options{})
	l, err := h.s.ListenTCP(netip.AddrPortFrom(netip.Addr{}, 80), 4)
	if err != nil {
		t.Fatal(err)
	}
	withECN := func(pkt []byte, ecn tcp.ECNCodepoint) []byte {
		ip, err := ipv4.ParseHeader(pkt)
		if err != nil {
			t.Fatal(err)
		}
		f := ipv4.HeaderFields{TOS: uint8(ecn), TTL: 64, Protocol: ipv4.ProtocolTCP, Src: peerAddr, Dst: stackAddr,
			PayloadLength: len(ip.Payload()), ID: 7}
		b := make([]byte, f.Size()+len(ip.Payload()))
		copy(b[f.Encode(b):], ip.Payload())
		return b
	}
	h.send(tcpPacket(t, 4000, 80, 1000, 0, tcp.FlagSYN|tcp.FlagECE|tcp.FlagCWR, nil, 1460))
	out := h.recv()
	if len(out) != 1 || parseTCP(t, out[0]).Flags != tcp.FlagSYN|tcp.FlagACK|tcp.FlagECE {
		t.Fatalf("answer to an ECN-setup SYN: %d packets, want one SYN+ACK with ECE", len(out))
	}
	iss := parseTCP(t, out[0]).Seq
	h.send(tcpPacket(t, 4000, 80, 1001, iss+1, tcp.FlagACK, nil, 0))
	c := l.TryAcceptTCP()
	if c == nil {
		t.Fatal("no connection to accept")
	}
	h.send(withECN(tcpPacket(t, 4000, 80, 1001, iss+1, tcp.FlagACK|tcp.FlagPSH, []byte("marked"), 0), tcp.CE))
	h.clk.Advance(time.Second) // past any delayed ACK
	out = h.recv()
	if len(out) != 1 || parseTCP(t, out[0]).Flags != tcp.FlagACK|tcp.FlagECE {
		t.Fatalf("answer to a CE-marked segment: %d packets, want an ACK with ECE", len(out))
	}
	if ip, _ := ipv4.ParseHeader(out[0]); ip.ECN() != ipv4.ECNNotECT {
		t.Fatalf("pure ACK sent with ECN codepoint %d, want Not-ECT", ip.ECN())
	}
	if _, err := c.Write([]byte("reply")); err != nil {
		t.Fatal(err)
	}
	out = h.recv()
	if len(out) != 1 {
		t.Fatalf("%d packets for one write", len(out))
	}
	if ip, _ := ipv4.ParseHeader(out[0]); ip.ECN() != ipv4.ECNECT0 {
		t.Fatalf("data sent with ECN codepoint %d, want ECT(0)", ip.ECN())
	}
}
