//go:build linux

package stack

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tundra-net/tundra/ipv4"
	"github.com/tundra-net/tundra/link"
	"github.com/tundra-net/tundra/link/tun"
	"github.com/tundra-net/tundra/link/tun/netnstest"
	"github.com/tundra-net/tundra/tcp"
)

// kernelStack opens a TUN in a fresh namespace (skipping without root) and
// runs a stack on it as netnstest.StackAddr; wrap, if set, wraps the
// endpoint first.
func kernelStack(t *testing.T, wrap func(link.Endpoint) link.Endpoint) (*netnstest.NS, *Stack) {
	t.Helper()
	ns := netnstest.New(t)
	var ep link.Endpoint = ns.OpenTUN("", tun.Options{})
	if wrap != nil {
		ep = wrap(ep)
	}
	s, err := New(ep, Options{Addresses: []netip.Addr{netip.MustParseAddr(netnstest.StackAddr)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return ns, s
}

// inNamespace opens a Go socket inside ns.
func inNamespace[T any](t *testing.T, ns *netnstest.NS, open func() (T, error)) T {
	t.Helper()
	var v T
	if err := ns.Do(func() error {
		var err error
		v, err = open()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestKernelUDPEcho: a UDP socket of the Linux kernel, inside the
// namespace, has its datagrams echoed by our stack, up to 60,000 bytes:
// the kernel fragments those at MTU 1500 and we reassemble them, and we
// fragment the echo and the kernel reassembles it.
func TestKernelUDPEcho(t *testing.T) {
	ns, s := kernelStack(t, nil)
	srv, err := s.ListenUDP(netip.AddrPortFrom(netip.IPv4Unspecified(), 7))
	if err != nil {
		t.Fatal(err)
	}
	go udpEchoServer(srv)
	pc := inNamespace(t, ns, func() (net.PacketConn, error) {
		return net.ListenPacket("udp4", netnstest.KernelAddr+":0")
	})
	defer pc.Close()
	to := &net.UDPAddr{IP: net.ParseIP(netnstest.StackAddr), Port: 7}
	buf := make([]byte, 65536)
	sizes := []int{1, 512, 1472, 1473, 4000, 20000, 60000}
	for i, size := range sizes {
		msg := pattern(size, byte(i))
		if _, err := pc.WriteTo(msg, to); err != nil {
			t.Fatalf("send %d: %v", size, err)
		}
		pc.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("echo of %d bytes: %v", size, err)
		}
		if !bytes.Equal(buf[:n], msg) || from.String() != to.String() {
			t.Fatalf("echo of %d bytes: %d bytes from %v differ", size, n, from)
		}
	}
	st := s.Stats()
	if st.IP.ReasmOKs != 4 || st.IP.FragOKs != 4 || st.IP.ReasmFails != 0 {
		t.Errorf("ReasmOKs %d FragOKs %d ReasmFails %d, want 4 4 0", st.IP.ReasmOKs, st.IP.FragOKs, st.IP.ReasmFails)
	}
	// The kernel's own counters (of the namespace) saw it too: our
	// fragments reassembled, its datagrams fragmented.
	ip := kernelIPCounters(t, ns)
	if ip["ReasmOKs"] != 4 || ip["FragOKs"] != 4 || ip["ReasmFails"] != 0 {
		t.Errorf("kernel: ReasmOKs %d FragOKs %d ReasmFails %d, want 4 4 0", ip["ReasmOKs"], ip["FragOKs"], ip["ReasmFails"])
	}
}

// kernelIPCounters reads the Ip lines of /proc/net/snmp in ns.
func kernelIPCounters(t *testing.T, ns *netnstest.NS) map[string]int {
	t.Helper()
	var names, values []string
	for _, line := range strings.Split(ns.Run("cat", "/proc/net/snmp"), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "Ip:" {
			if names == nil {
				names = f[1:]
			} else {
				values = f[1:]
			}
		}
	}
	m := make(map[string]int)
	for i := range min(len(names), len(values)) {
		m[names[i]], _ = strconv.Atoi(values[i])
	}
	return m
}

// TestKernelResolver: a name is resolved through our stack from a small
// DNS server that a Go program runs on the kernel side, 198.18.0.1:53.
func TestKernelResolver(t *testing.T) {
	ns, s := kernelStack(t, nil)
	pc := inNamespace(t, ns, func() (net.PacketConn, error) {
		return net.ListenPacket("udp4", netnstest.KernelAddr+":53")
	})
	defer pc.Close()
	want := netip.MustParseAddr("198.18.0.99")
	queries := make(chan string, 4)
	go serveDNS(pc, map[string]netip.Addr{"kernel.tundra.test.": want}, queries)

	r := s.Resolver(netip.MustParseAddrPort(netnstest.KernelAddr + ":53"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addrs, err := r.LookupNetIP(ctx, "ip4", "kernel.tundra.test.")
	if err != nil || len(addrs) != 1 || addrs[0] != want {
		t.Fatalf("LookupNetIP = %v, %v; want [%v]", addrs, err, want)
	}
	if q := <-queries; q != "TypeA kernel.tundra.test." {
		t.Errorf("the server saw %q", q)
	}
}

// segmentTap records the last TCP data segment the stack sends on each
// local port, and can drop everything the stack sends (as a lossy path
// would) so that data stays in flight.
type segmentTap struct {
	link.Endpoint
	drop atomic.Bool
	mu   sync.Mutex
	last map[uint16][]byte // local port -> IPv4 header and 8 bytes of TCP
}

func (tp *segmentTap) WritePackets(pkts []link.Packet) (int, error) {
	for _, p := range pkts {
		ip, err := ipv4.ParseHeader(p.Data)
		if err != nil || ip.Protocol() != ipv4.ProtocolTCP {
			continue
		}
		h, err := tcp.ParseHeader(ip.Payload())
		if err != nil || len(h.Payload()) == 0 {
			continue
		}
		tp.mu.Lock()
		tp.last[binary.BigEndian.Uint16(ip.Payload()[0:2])] = bytes.Clone(p.Data[:ip.HeaderLength()+8])
		tp.mu.Unlock()
	}
	if tp.drop.Load() {
		return len(pkts), nil
	}
	return tp.Endpoint.WritePackets(pkts)
}

// TestKernelPathMTU: the kernel side sends, from a raw socket, an ICMP
// "fragmentation needed" (next hop MTU 1200) quoting a segment of one of
// two TCP connections our stack has open to it, while that segment is in
// flight. That connection's MSS falls to fit (1160, less 12 with
// timestamps); the other keeps its MSS; the data still arrives whole at the
// kernel.
func TestKernelPathMTU(t *testing.T) {
	tap := &segmentTap{last: make(map[uint16][]byte)}
	ns, s := kernelStack(t, func(ep link.Endpoint) link.Endpoint { tap.Endpoint = ep; return tap })
	l := inNamespace(t, ns, func() (net.Listener, error) { return net.Listen("tcp4", netnstest.KernelAddr+":5001") })
	defer l.Close()
	type received struct {
		data []byte
		err  error
	}
	results := make(chan received, 2)
	go func() {
		for range 2 {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetReadDeadline(time.Now().Add(30 * time.Second))
				b, err := io.ReadAll(c)
				results <- received{b, err}
			}()
		}
	}()
	dial := func() *TCPConn {
		c, err := s.DialTCP(context.Background(), netip.MustParseAddrPort(netnstest.KernelAddr+":5001"))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	busy, idle := dial(), dial()
	idle.Write([]byte("idle"))
	idle.Close()
	// 1460, less 12 if timestamps are in use.
	before := busy.Stats().SendMSS
	options := 1460 - before
	if options != 0 && options != 12 {
		t.Fatalf("MSS %d before", before)
	}

	// Data goes out and is lost on the way: it stays in flight.
	tap.drop.Store(true)
	data := pattern(100000, 5)
	go func() { busy.Write(data); busy.Close() }()
	port := busy.id.LocalPort
	var quote []byte
	eventually(t, func() bool {
		tap.mu.Lock()
		defer tap.mu.Unlock()
		quote = tap.last[port]
		return quote != nil
	})

	// The kernel side (a raw ICMP socket in the namespace) sends the
	// message, as a router on the path would.
	fd := inNamespace(t, ns, func() (int, error) { return unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP) })
	defer unix.Close(fd)
	msg := make([]byte, ipv4.ICMPErrorSize(quote))
	ipv4.BuildFragmentationNeeded(msg, 1200, quote)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrInet4{Addr: netip.MustParseAddr(netnstest.StackAddr).As4()}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return busy.Stats().SendMSS == 1200-40-options })
	tap.drop.Store(false)

	var got [][]byte
	for range 2 {
		select {
		case r := <-results:
			if r.err != nil {
				t.Fatalf("kernel read: %v", r.err)
			}
			got = append(got, r.data)
		case <-time.After(40 * time.Second):
			t.Fatal("transfers did not finish")
		}
	}
	if !(bytes.Equal(got[0], data) || bytes.Equal(got[1], data)) {
		t.Errorf("the kernel did not receive the %d bytes intact (%d and %d bytes)", len(data), len(got[0]), len(got[1]))
	}
	if mss := idle.Stats().SendMSS; mss != before {
		t.Errorf("the other connection's MSS changed to %d", mss)
	}
	if n := s.Stats().TCP.PMTUReductions; n != 1 {
		t.Errorf("PMTUReductions %d", n)
	}
}
