//go:build linux

package e2e

import (
	"context"
	"io"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tundra-net/tundra/stack"
)

// Bits of tcp_info's tcpi_options (linux/tcp.h).
const (
	tcpiOptECN     = 0x8  // TCPI_OPT_ECN: ECN was negotiated at the handshake
	tcpiOptECNSeen = 0x10 // TCPI_OPT_ECN_SEEN: at least one ECT packet received
)

// TestKernelECN: the Linux kernel, told to ask for ECN
// (net.ipv4.tcp_ecn=1 in the test's namespace), agrees on it with
// tundra's listener (RFC 3168 6.1.1), also when a full backlog makes
// tundra answer with a SYN cookie, which keeps the agreement in the
// timestamp; and the kernel's TCP_INFO says it saw ECT (TCPI_OPT_ECN_SEEN):
// tundra's data reached it ECN-capable. Counted by iptables on the kernel side, none of
// tundra's packets without data is ECN-capable (6.1.4). With the kernel's
// timestamps off, the cookie cannot keep the agreement and neither end
// uses ECN.
func TestKernelECN(t *testing.T) {
	needTools(t, "iptables", "sysctl")
	e := newEnv(t)
	e.mustExec("sysctl", "-w", "net.ipv4.tcp_ecn=1")
	// Packets from the stack, by ECN codepoint, with at most 80 bytes (IP,
	// TCP and options: no data) or more.
	for _, rule := range [][]string{
		{"-A", "INPUT", "-s", stackAddr, "-p", "tcp", "-m", "ecn", "--ecn-ip-ect", "2", "-m", "length", "--length", "0:80"},
		{"-A", "INPUT", "-s", stackAddr, "-p", "tcp", "-m", "ecn", "--ecn-ip-ect", "0", "-m", "length", "--length", "0:80"},
		{"-A", "INPUT", "-s", stackAddr, "-p", "tcp", "-m", "ecn", "--ecn-ip-ect", "2", "-m", "length", "--length", "81:65535"},
	} {
		if out, err := e.exec("iptables", rule...); err != nil {
			t.Skipf("iptables ecn or length match unavailable: %v: %s", err, out.stderr)
		}
	}

	dialFrom := func(port int, addr string) net.Conn {
		t.Helper()
		var c net.Conn
		err := e.ns.Do(func() error {
			d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(kernelAddr), Port: port}}
			var err error
			c, err = d.DialContext(context.Background(), "tcp", addr)
			return err
		})
		if err != nil {
			t.Fatalf("kernel dial from port %d: %v", port, err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	accept := func(l *stack.TCPListener) *stack.TCPConn {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if c := l.TryAcceptTCP(); c != nil {
				t.Cleanup(func() { c.Close() })
				return c
			}
		}
		t.Fatal("no connection to accept within 10 s")
		return nil
	}
	// exchange sends 256 KiB from tundra to the kernel and 64 KiB back,
	// then returns the kernel socket's TCP_INFO options.
	exchange := func(k net.Conn, c *stack.TCPConn) uint8 {
		t.Helper()
		k.SetDeadline(time.Now().Add(20 * time.Second))
		c.SetDeadline(time.Now().Add(20 * time.Second))
		done := make(chan error, 1)
		go func() {
			_, err := c.Write(make([]byte, 256<<10))
			if err == nil {
				_, err = io.ReadFull(c, make([]byte, 64<<10))
			}
			done <- err
		}()
		if _, err := io.ReadFull(k, make([]byte, 256<<10)); err != nil {
			t.Fatal(err)
		}
		if _, err := k.Write(make([]byte, 64<<10)); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		raw, err := k.(*net.TCPConn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var info *unix.TCPInfo
		raw.Control(func(fd uintptr) { info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) })
		if err != nil {
			t.Fatal(err)
		}
		return info.Options
	}

	// An ordinary handshake.
	l, err := e.st.ListenTCP(netip.AddrPortFrom(netip.Addr{}, 7070), 8)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	k := dialFrom(40000, stackAddr+":7070")
	c := accept(l)
	if !c.Stats().ECN {
		t.Fatal("tundra did not agree on ECN with the kernel's ECN-setup SYN")
	}
	if opts := exchange(k, c); opts&tcpiOptECN == 0 || opts&tcpiOptECNSeen == 0 {
		t.Fatalf("kernel's socket options %#x: want ECN agreed and ECT seen", opts)
	}

	// A listener with a backlog of one, filled by a connection whose final
	// ACK iptables drops: the next SYN is answered with a cookie.
	cl, err := e.st.ListenTCP(netip.AddrPortFrom(netip.Addr{}, 7071), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	e.mustExec("iptables", "-A", "OUTPUT", "-d", stackAddr, "-p", "tcp", "--dport", "7071", "--sport", "40001",
		"--tcp-flags", "SYN", "NONE", "-j", "DROP")
	dialFrom(40001, stackAddr+":7071")
	k = dialFrom(40002, stackAddr+":7071")
	c = accept(cl)
	if sent, accepted, _ := cl.SYNCookieStats(); sent != 1 || accepted != 1 {
		t.Fatalf("cookies sent %d, accepted %d; want the second connection made by one", sent, accepted)
	}
	if st := c.Stats(); !st.ECN || !st.Timestamps {
		t.Fatalf("cookie connection: ECN %v, timestamps %v; want both", st.ECN, st.Timestamps)
	}
	if opts := exchange(k, c); opts&tcpiOptECN == 0 || opts&tcpiOptECNSeen == 0 {
		t.Fatalf("kernel's socket options %#x on the cookie connection: want ECN agreed and ECT seen", opts)
	}

	// Without timestamps the cookie cannot keep ECN.
	e.mustExec("sysctl", "-w", "net.ipv4.tcp_timestamps=0")
	k = dialFrom(40003, stackAddr+":7071")
	c = accept(cl)
	if sent, accepted, _ := cl.SYNCookieStats(); sent != 2 || accepted != 2 {
		t.Fatalf("cookies sent %d, accepted %d; want the third connection made by one", sent, accepted)
	}
	if c.Stats().ECN {
		t.Fatal("a cookie connection without timestamps uses ECN")
	}
	if opts := exchange(k, c); opts&(tcpiOptECN|tcpiOptECNSeen) != 0 {
		t.Fatalf("kernel's socket options %#x on the cookie connection without timestamps: want no ECN", opts)
	}

	counters := e.mustExec("iptables", "-L", "INPUT", "-v", "-n", "-x").stdout
	m := regexp.MustCompile(`(?m)^\s*(\d+)\s+\d+\s.*ECN match ECT=(\d) length (\S+)`).FindAllStringSubmatch(counters, -1)
	if len(m) != 3 {
		t.Fatalf("iptables counters not found:\n%s", counters)
	}
	count := map[string]int{}
	for _, r := range m {
		n, _ := strconv.Atoi(r[1])
		count["ECT="+r[2]+" length "+r[3]] = n
	}
	t.Logf("tundra's packets: %v", count)
	if n := count["ECT=2 length 0:80"]; n != 0 {
		t.Errorf("%d packets without data sent ECT(0), want none (RFC 3168 6.1.4)", n)
	}
	if count["ECT=0 length 0:80"] == 0 || count["ECT=2 length 81:65535"] == 0 {
		t.Errorf("counters %v: want Not-ECT packets without data and ECT(0) data", count)
	}
}
