//go:build linux

package attack

import (
	"bufio"
	"bytes"
	"crypto/rand"
	cryptotls "crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tundra-net/tundra/link/tun"
	"github.com/tundra-net/tundra/stack"
)

// readAllFor reads c until EOF, an error or d, and returns what came and
// whether the peer closed (EOF or a reset) within d.
func readAllFor(c net.Conn, d time.Duration) ([]byte, bool) {
	c.SetReadDeadline(time.Now().Add(d))
	var buf bytes.Buffer
	_, err := io.Copy(&buf, c)
	var ne net.Error
	timedOut := errors.As(err, &ne) && ne.Timeout()
	return buf.Bytes(), !timedOut
}

// An abuse is what one attacking connection sends and what must follow.
type abuse struct {
	name string
	data []byte
	// check reads the connection after data has started going out and
	// returns what was wrong, or nil.
	check func(conn net.Conn) error
}

// abuseConcurrently opens copies connections to addr for each abuse, all
// at once. Each sends its data in the background (the server may close
// before it has read it all) and runs its check. meanwhile runs while
// they do: the ordinary traffic that must keep working during the attack.
// Every failed dial and check is reported, and the stack must return to
// its baseline afterwards.
func (e *env) abuseConcurrently(addr string, abuses []abuse, copies int, meanwhile func()) {
	e.t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(abuses)*copies)
	for _, a := range abuses {
		for range copies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				conn, err := e.dial(addr, 5*time.Second)
				if err != nil {
					errs <- err
					return
				}
				defer conn.Close()
				go conn.Write(a.data)
				if err := a.check(conn); err != nil {
					errs <- fmt.Errorf("%s: %w", a.name, err)
				}
			}()
		}
	}
	meanwhile()
	wg.Wait()
	close(errs)
	for err := range errs {
		e.t.Error(err)
	}
	e.checkRecovered(20 * time.Second)
}

// TestOversizedHeads sends request heads past each of the strict HTTP
// server's limits: a request line over MaxStartLineBytes gets 414 (RFC 9112
// section 3), a head over MaxHeaderBytes and more field lines than
// MaxHeaderCount get 431 (RFC 6585 section 5); each response is followed
// by a close. Ten of each run at once, and a normal request succeeds
// meanwhile.
func TestOversizedHeads(t *testing.T) {
	e := newEnv(t)
	addr := fmt.Sprintf("%s:%d", stackAddr, strictHTTPPort)
	var manyFields strings.Builder
	for i := range 150 {
		fmt.Fprintf(&manyFields, "X-F%d: v\r\n", i)
	}
	// answeredAndClosed checks for the response status and then the
	// server's close.
	answeredAndClosed := func(status string) func(net.Conn) error {
		return func(conn net.Conn) error {
			resp, closed := readAllFor(conn, 5*time.Second)
			if !bytes.HasPrefix(resp, []byte("HTTP/1.1 "+status)) {
				return fmt.Errorf("response %.60q, want %s", resp, status)
			}
			if !closed {
				return fmt.Errorf("%s sent but the connection stayed open", status)
			}
			return nil
		}
	}
	abuses := []abuse{
		{"long request line", []byte("GET /" + strings.Repeat("a", 2*strictMaxStartLine) + " HTTP/1.1\r\nHost: x\r\n\r\n"), answeredAndClosed("414")},
		{"huge header", []byte("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 2*strictMaxHeaderBytes) + "\r\n\r\n"), answeredAndClosed("431")},
		{"many header lines", []byte("GET / HTTP/1.1\r\nHost: x\r\n" + manyFields.String() + "\r\n"), answeredAndClosed("431")},
		{"endless header, no line end", []byte("GET / HTTP/1.1\r\nX: " + strings.Repeat("c", 64<<10)), answeredAndClosed("431")},
	}
	e.abuseConcurrently(addr, abuses, 10, func() {
		if err := e.get("http://" + addr + "/"); err != nil {
			t.Errorf("a normal request during the attack: %v", err)
		}
	})
}

// Slowloris bounds: connections, the interval between bytes, and how long
// each connection keeps trying.
const (
	slowlorisConns    = 100
	slowlorisInterval = 300 * time.Millisecond
	slowlorisMax      = 8 * time.Second
)

// TestSlowloris opens slowlorisConns connections to the strict server,
// each sending a request head one byte every slowlorisInterval and never
// finishing it. The read-header timeout (1 s here; http.Server
// ReadHeaderTimeout, from the head's first byte) must close every one of
// them well before slowlorisMax, while normal requests keep succeeding.
func TestSlowloris(t *testing.T) {
	e := newEnv(t)
	addr := fmt.Sprintf("%s:%d", stackAddr, strictHTTPPort)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var lifetimes []time.Duration
	var survivors int
	for range slowlorisConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := e.dial(addr, 5*time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			start := time.Now()
			head := "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("z", 1000)
			closed := false
			for i := 0; i < len(head) && time.Since(start) < slowlorisMax; i++ {
				if _, err := conn.Write([]byte{head[i]}); err != nil {
					closed = true
					break
				}
				conn.SetReadDeadline(time.Now().Add(slowlorisInterval))
				var one [512]byte
				if _, err := conn.Read(one[:]); err != nil {
					var ne net.Error
					if !errors.As(err, &ne) || !ne.Timeout() {
						closed = true
						break
					}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if closed {
				lifetimes = append(lifetimes, time.Since(start))
			} else {
				survivors++
			}
		}()
	}
	// Normal clients during the attack.
	time.Sleep(500 * time.Millisecond)
	for range 5 {
		if err := e.get("http://" + addr + "/"); err != nil {
			t.Errorf("a normal request during slowloris: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	wg.Wait()
	if survivors > 0 {
		t.Errorf("%d of %d slowloris connections still open after %v", survivors, slowlorisConns, slowlorisMax)
	}
	var longest time.Duration
	for _, l := range lifetimes {
		longest = max(longest, l)
	}
	t.Logf("%d slowloris connections closed by the server, the longest after %v (read-header timeout %v)",
		len(lifetimes), longest.Round(10*time.Millisecond), strictReadHeaderTimeout)
	if longest > strictReadHeaderTimeout+2*time.Second {
		t.Errorf("a slowloris connection lived %v, read-header timeout %v", longest, strictReadHeaderTimeout)
	}
	e.checkRecovered(20 * time.Second)
}

// clientHello returns the first TLS record a crypto/tls client sends: a
// complete ClientHello.
func clientHello(t *testing.T) []byte {
	a, b := net.Pipe()
	go func() {
		cryptotls.Client(a, &cryptotls.Config{ServerName: stackAddr}).Handshake()
		a.Close()
	}()
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(b, hdr); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := io.ReadFull(b, body); err != nil {
		t.Fatal(err)
	}
	b.Close()
	return append(hdr, body...)
}

// TestTLSGarbage sends garbage to the strict HTTPS server, ten connections
// of each kind at once: random bytes; a ClientHello cut in half and then
// silence; a record header announcing 65535 bytes (past TLS's 2^14 + 256
// limit, RFC 8446 section 5.1); a valid ClientHello followed by garbage
// instead of the rest of the handshake. The server must close each
// (at once, or at the read-header timeout for the ones that go silent),
// stay up, and complete real handshakes meanwhile.
func TestTLSGarbage(t *testing.T) {
	e := newEnv(t)
	addr := fmt.Sprintf("%s:%d", stackAddr, strictHTTPSPort)
	hello := clientHello(t)
	random := make([]byte, 4096)
	rand.Read(random)
	// closesInTime checks that the server closes the connection, at the
	// latest at its read-header timeout.
	closesInTime := func(conn net.Conn) error {
		start := time.Now()
		if _, closed := readAllFor(conn, strictReadHeaderTimeout+3*time.Second); !closed {
			return fmt.Errorf("connection still open after %v", time.Since(start).Round(time.Millisecond))
		}
		return nil
	}
	abuses := []abuse{
		{"random bytes", random, closesInTime},
		{"truncated ClientHello", hello[:len(hello)/2], closesInTime},
		{"record length 65535", append([]byte{0x16, 0x03, 0x01, 0xff, 0xff}, random[:1000]...), closesInTime},
		{"ClientHello then garbage", append(bytes.Clone(hello), random[:600]...), closesInTime},
		{"HTTP to the TLS port", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), closesInTime},
	}
	e.abuseConcurrently(addr, abuses, 10, func() {
		for range 5 {
			if err := e.get("https://" + addr + "/"); err != nil {
				t.Errorf("a real TLS client during the attack: %v", err)
			}
		}
	})
}

// TestListenBacklogFull opens a listener with a backlog of 4 that never
// accepts and connects 12 kernel clients to it. The backlog holds 4; what
// the stack does with the rest (SYN cookies, RFC 4987 3.6, or dropped SYNs)
// must be bounded: the stack never holds more than the backlog for the
// listener, every client either connects or fails within its timeout, and
// once the listener closes every queued connection is reset and the stack
// returns to its baseline.
func TestListenBacklogFull(t *testing.T) {
	e := newEnv(t)
	const backlog, clients = 4, 12
	l, err := e.st.ListenTCP(netip.MustParseAddrPort("0.0.0.0:9999"), backlog)
	if err != nil {
		t.Fatal(err)
	}
	base := e.st.ConnectionCount()
	var conns []net.Conn
	var failed int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := e.dial(stackAddr+":9999", 2*time.Second)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed++
				return
			}
			conns = append(conns, c)
		}()
	}
	wg.Wait()
	held := e.st.ConnectionCount() - base
	t.Logf("%d clients: %d connected (kernel view), %d failed; the stack holds %d", clients, len(conns), failed, held)
	if held > backlog {
		t.Errorf("listener with backlog %d holds %d connections", backlog, held)
	}
	// A client past the backlog that believes it is connected must learn
	// otherwise once it sends (RST), or find its data unacknowledged.
	l.Close()
	for _, c := range conns {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte("hello"))
		if _, err := bufio.NewReader(c).ReadByte(); err == nil {
			t.Error("a connection to a closed listener delivered data")
		}
		c.Close()
	}
	e.checkRecovered(20 * time.Second)
}

// udpFloodDatagrams bounds TestUDPQueueFull.
const udpFloodDatagrams = 5000

// TestUDPQueueFull sends udpFloodDatagrams datagrams to a UDP socket that
// is not read: the socket queues at most UDPReceiveQueueLength (1024) and
// UDPReceiveBuffer bytes, the rest are dropped and counted, and the
// datagrams that were queued are read back intact.
func TestUDPQueueFull(t *testing.T) {
	e := newEnv(t)
	u, err := e.st.ListenUDP(netip.MustParseAddrPort("0.0.0.0:5353"))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	before := e.st.Stats()
	err = e.ns.Do(func() error {
		c, err := net.Dial("udp", stackAddr+":5353")
		if err != nil {
			return err
		}
		defer c.Close()
		msg := make([]byte, 100)
		for i := range udpFloodDatagrams {
			msg[0], msg[1] = byte(i>>8), byte(i)
			c.Write(msg)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	after := e.st.Stats()
	queued := 0
	buf := make([]byte, 2000)
	for {
		u.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, _, err := u.ReadFrom(buf)
		if err != nil {
			break
		}
		if n != 100 {
			t.Fatalf("datagram of %d bytes, want 100", n)
		}
		queued++
	}
	dropped := after.UDP.RcvbufErrors - before.UDP.RcvbufErrors
	t.Logf("%d datagrams sent: %d queued and read, %d dropped for the queue (RcvbufErrors)", udpFloodDatagrams, queued, dropped)
	if queued > 1024 {
		t.Errorf("%d datagrams queued, limit 1024", queued)
	}
	if dropped == 0 {
		t.Error("no datagram counted as dropped")
	}
	e.checkRecovered(10 * time.Second)
}

// TestMaxTCPConnections caps the stack at maxConns TCP connections
// (Options.MaxTCPConnections, in every state) and opens twice as many
// kernel connections to the echo service, all kept open: the first ones
// connect and echo, the rest are refused at once with a RST (the kernel's
// "connection refused"), never left hanging; when the held ones close, new
// connections are accepted again.
func TestMaxTCPConnections(t *testing.T) {
	const maxConns = 16
	e := newEnvWith(t, tun.Options{}, func(o *stack.Options) { o.MaxTCPConnections = maxConns })
	var held []net.Conn
	var refused int
	for range 2 * maxConns {
		c, err := e.dial(stackAddr+":7", 3*time.Second)
		if err != nil {
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Errorf("a connection past the cap failed with %v, want connection refused", err)
			}
			refused++
			continue
		}
		// The kernel's connect returns on the SYN+ACK; a connection the
		// stack took must echo.
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 4)
		if _, err := io.ReadFull(c, got); err != nil || string(got) != "ping" {
			t.Fatalf("connection %d: echo %q, %v", len(held), got, err)
		}
		held = append(held, c)
	}
	t.Logf("cap %d: %d connections held, %d refused; the stack holds %d", maxConns, len(held), refused, e.st.ConnectionCount())
	if len(held) > maxConns || e.st.ConnectionCount() > maxConns {
		t.Errorf("%d connections held with a cap of %d", len(held), maxConns)
	}
	if refused == 0 {
		t.Error("no connection refused past the cap")
	}
	for _, c := range held {
		c.Close()
	}
	e.checkRecovered(20 * time.Second)
}
