// Command push shows a server pushing events to a client over one
// long-lived TCP connection, and what keeps such a connection alive when a
// stateful firewall (or NAT) between the two forgets flows that stay idle
// too long, as nearly all of them do (minutes on most home routers and
// cloud NATs; one second here, so that the demonstration is quick).
//
// Two tundra stacks talk over an in-memory link (link/pipe, with 5 ms of
// delay each way from link/impair), no root needed, with a firewall in the
// middle. The server sends three events: two at once, the third after a
// long quiet spell. What happens to the third depends on the flags:
//
//	go run ./examples/push -heartbeat 0                 # lost: the firewall forgot the flow
//	go run ./examples/push                              # application heartbeats every 300 ms keep it
//	go run ./examples/push -heartbeat 0 -keepalive 400ms  # TCP keepalive probes keep it too
//	go run ./examples/push -mode poll                   # HTTP polling instead of pushing
//
// Application heartbeats do two jobs: the traffic refreshes every
// middlebox's state, and the client, which expects a line at least every
// heartbeat interval, notices a dead server within a few intervals (its
// read deadline) instead of never. TCP keepalive (RFC 1122 section
// 4.2.3.6) refreshes the state too, but the application learns nothing
// from it until the connection finally fails, and its default idle time
// is two hours, far longer than any firewall waits. Polling needs no long
// connection at all, but each event waits for the next poll, and every
// poll costs a request even when nothing happened.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	tundrahttp "github.com/tundra-net/tundra/http"
	"github.com/tundra-net/tundra/ipv4"
	"github.com/tundra-net/tundra/link"
	"github.com/tundra-net/tundra/link/impair"
	"github.com/tundra-net/tundra/link/pipe"
	"github.com/tundra-net/tundra/stack"
	"github.com/tundra-net/tundra/tcp"
)

var (
	clientAddr = netip.MustParseAddr("198.18.0.1")
	serverAddr = netip.MustParseAddr("198.18.0.2")
)

// config holds the flags.
type config struct {
	mode         string        // "push" or "poll"
	heartbeat    time.Duration // application heartbeat interval; 0: none
	keepAlive    time.Duration // TCP keepalive idle and interval; 0: off
	firewallIdle time.Duration // the firewall forgets flows idle this long
	poll         time.Duration // polling interval
	schedule     []time.Duration
	grace        time.Duration // how long after the last event the client waits
}

func main() {
	var cfg config
	flag.StringVar(&cfg.mode, "mode", "push", "push (one long connection) or poll (HTTP requests)")
	flag.DurationVar(&cfg.heartbeat, "heartbeat", 300*time.Millisecond, "application heartbeat interval (0: none)")
	flag.DurationVar(&cfg.keepAlive, "keepalive", 0, "TCP keepalive idle time and probe interval (0: off)")
	flag.DurationVar(&cfg.firewallIdle, "firewall-idle", time.Second, "the firewall forgets a flow idle this long")
	flag.DurationVar(&cfg.poll, "poll", 500*time.Millisecond, "polling interval (-mode poll)")
	flag.Parse()
	cfg.schedule = []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 2500 * time.Millisecond}
	cfg.grace = 1500 * time.Millisecond
	if err := run(cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "push:", err)
		os.Exit(1)
	}
}

// run builds the network, runs the chosen mode and prints what happened.
func run(cfg config, out io.Writer) error {
	n, err := newNetwork(cfg.firewallIdle)
	if err != nil {
		return err
	}
	defer n.close()
	fmt.Fprintf(out, "the firewall forgets flows idle for %v; events at %v\n", cfg.firewallIdle, cfg.schedule)
	if cfg.mode == "poll" {
		return runPoll(cfg, n, out)
	}
	return runPush(cfg, n, out)
}

// network is the client stack, the server stack and the firewall between.
type network struct {
	client, server *stack.Stack
	firewall       *firewall
	start          time.Time
}

func newNetwork(firewallIdle time.Duration) (*network, error) {
	a, b := pipe.New(pipe.Options{})
	delay := impair.Config{Write: impair.Direction{Delay: 5 * time.Millisecond}}
	fw := &firewall{Endpoint: impair.New(a, delay, nil), idle: firewallIdle, flows: map[flow]time.Time{}}
	n := &network{firewall: fw, start: time.Now()}
	var err error
	if n.client, err = stack.New(fw, stack.Options{Addresses: []netip.Addr{clientAddr}}); err != nil {
		return nil, err
	}
	if n.server, err = stack.New(impair.New(b, delay, nil), stack.Options{Addresses: []netip.Addr{serverAddr}}); err != nil {
		n.client.Close()
		return nil, err
	}
	return n, nil
}

func (n *network) close() {
	n.client.Close()
	n.server.Close()
}

// since is the time since the start, for the log lines.
func (n *network) since() string { return fmt.Sprintf("%5.2fs", time.Since(n.start).Seconds()) }

// runPush: the server pushes each event as a line on one connection,
// with heartbeat lines in the quiet spells; the client prints what comes.
func runPush(cfg config, n *network, out io.Writer) error {
	l, err := n.server.ListenTCP(netip.AddrPortFrom(serverAddr, 7000), 4)
	if err != nil {
		return err
	}
	defer l.Close()
	serverConn := make(chan *stack.TCPConn, 1)
	go func() {
		c, err := l.AcceptTCP()
		if err != nil {
			return
		}
		if cfg.keepAlive > 0 {
			c.SetKeepAlive(true)
			c.SetKeepAlivePeriod(cfg.keepAlive)
		}
		serverConn <- c
		pushEvents(cfg, c)
	}()

	c, err := n.client.Dial("tcp", netip.AddrPortFrom(serverAddr, 7000).String())
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Fprintf(out, "%s client connected; heartbeat %v, TCP keepalive %v\n", n.since(), orOff(cfg.heartbeat), orOff(cfg.keepAlive))
	srv := <-serverConn
	defer srv.Close()

	// The client expects a line at least every heartbeat interval; three
	// missed in a row mean the connection is dead. Without heartbeats it
	// can only wait (here, until the demonstration ends).
	patience := 3 * cfg.heartbeat
	end := n.start.Add(cfg.schedule[len(cfg.schedule)-1] + cfg.grace)
	r := bufio.NewReader(c)
	events, heartbeats := 0, 0
	for events < len(cfg.schedule) {
		deadline := end
		if patience > 0 && time.Now().Add(patience).Before(end) {
			deadline = time.Now().Add(patience)
		}
		c.SetReadDeadline(deadline)
		line, err := r.ReadString('\n')
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				if time.Now().Before(end) {
					fmt.Fprintf(out, "%s client: no heartbeat for %v: the connection is dead, reconnect\n", n.since(), patience)
				} else {
					fmt.Fprintf(out, "%s client: still waiting for event %d; the server is retransmitting it into the void\n", n.since(), events+1)
				}
				break
			}
			return err
		}
		line = strings.TrimSpace(line)
		if line == "heartbeat" {
			heartbeats++
			continue
		}
		events++
		fmt.Fprintf(out, "%s client got %q (%d heartbeats before it)\n", n.since(), line, heartbeats)
		heartbeats = 0
	}
	st := srv.Stats()
	fmt.Fprintf(out, "events received: %d of %d; server retransmissions: %d; packets the firewall dropped: %d\n",
		events, len(cfg.schedule), st.Retransmissions, n.firewall.droppedCount())
	return nil
}

// pushEvents writes the events on schedule, and a heartbeat line whenever
// nothing was written for a heartbeat interval.
func pushEvents(cfg config, c net.Conn) {
	start := time.Now()
	for i, at := range cfg.schedule {
		for {
			wait := time.Until(start.Add(at))
			if wait <= 0 {
				break
			}
			if cfg.heartbeat > 0 && wait > cfg.heartbeat {
				time.Sleep(cfg.heartbeat)
				if _, err := io.WriteString(c, "heartbeat\n"); err != nil {
					return
				}
				continue
			}
			time.Sleep(wait)
		}
		if _, err := fmt.Fprintf(c, "event %d\n", i+1); err != nil {
			return
		}
	}
	// Keep the heartbeats going until the client hangs up.
	for cfg.heartbeat > 0 {
		time.Sleep(cfg.heartbeat)
		if _, err := io.WriteString(c, "heartbeat\n"); err != nil {
			return
		}
	}
}

// runPoll: the server keeps the events; the client asks for new ones
// every poll interval with an HTTP GET on a kept-alive connection.
func runPoll(cfg config, n *network, out io.Writer) error {
	l, err := n.server.Listen("tcp", ":80")
	if err != nil {
		return err
	}
	start := time.Now()
	mux := nethttp.NewServeMux()
	mux.HandleFunc("/events", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		since, _ := strconv.Atoi(r.URL.Query().Get("since"))
		for i, at := range cfg.schedule {
			if i+1 > since && time.Since(start) >= at {
				fmt.Fprintf(w, "event %d %d\n", i+1, at.Milliseconds())
			}
		}
	})
	srv := &tundrahttp.Server{Handler: mux}
	go srv.Serve(l)
	defer srv.Close()

	client := &tundrahttp.Client{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return n.client.DialContext(ctx, network, addr)
	}, Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	fmt.Fprintf(out, "%s client polls http://%v/events every %v\n", n.since(), serverAddr, cfg.poll)
	got, requests, failures := 0, 0, 0
	var totalDelay time.Duration
	for got < len(cfg.schedule) && time.Since(start) < cfg.schedule[len(cfg.schedule)-1]+cfg.grace {
		requests++
		resp, err := client.Get(fmt.Sprintf("http://%v/events?since=%d", serverAddr, got))
		if err != nil {
			failures++
			fmt.Fprintf(out, "%s poll failed (%v); the next poll opens a new connection\n", n.since(), err)
			client.CloseIdleConnections()
		} else {
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				var idx, atMS int
				fmt.Sscanf(sc.Text(), "event %d %d", &idx, &atMS)
				delay := time.Since(start) - time.Duration(atMS)*time.Millisecond
				totalDelay += delay
				got = idx
				fmt.Fprintf(out, "%s client got \"event %d\", %v after it happened\n", n.since(), idx, delay.Round(time.Millisecond))
			}
			resp.Body.Close()
		}
		time.Sleep(cfg.poll)
	}
	if got > 0 {
		fmt.Fprintf(out, "events received: %d of %d with %d requests (%d failed); average delay %v\n",
			got, len(cfg.schedule), requests, failures, (totalDelay / time.Duration(got)).Round(time.Millisecond))
	}
	return nil
}

func orOff(d time.Duration) string {
	if d == 0 {
		return "off"
	}
	return d.String()
}

// flow identifies a connection to the firewall, the same both ways.
type flow struct {
	a, b netip.AddrPort
}

// firewall is a stateful firewall on the client's link: it lets a TCP
// flow through once the client has sent its SYN, and forgets the flow
// when no packet has crossed for idle. After that, every packet of the
// flow is dropped, as on a real firewall or NAT whose state expired (a new
// connection, with a new SYN, would get through).
type firewall struct {
	link.Endpoint
	idle time.Duration

	mu      sync.Mutex
	flows   map[flow]time.Time
	dropped int
}

// pass decides one packet's fate.
func (f *firewall) pass(pkt []byte) bool {
	fl, syn, ok := parseFlow(pkt)
	if !ok {
		return true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	last, known := f.flows[fl]
	if known && now.Sub(last) > f.idle {
		delete(f.flows, fl)
		known = false
	}
	if !known && !syn {
		f.dropped++
		return false
	}
	f.flows[fl] = now
	return true
}

func (f *firewall) droppedCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dropped
}

// WritePackets filters the client's packets on their way out.
func (f *firewall) WritePackets(pkts []link.Packet) (int, error) {
	kept := pkts[:0:0]
	for _, p := range pkts {
		if f.pass(p.Data) {
			kept = append(kept, p)
		}
	}
	if len(kept) == 0 {
		return len(pkts), nil
	}
	if _, err := f.Endpoint.WritePackets(kept); err != nil {
		return 0, err
	}
	return len(pkts), nil
}

// ReadPackets filters the packets on their way in to the client.
func (f *firewall) ReadPackets(pkts []link.Packet) (int, error) {
	for {
		n, err := f.Endpoint.ReadPackets(pkts)
		kept := 0
		for i := range pkts[:n] {
			if f.pass(pkts[i].Data) {
				pkts[i], pkts[kept] = pkts[kept], pkts[i]
				kept++
			}
		}
		if kept > 0 || err != nil {
			return kept, err
		}
	}
}

// parseFlow reads the addresses and ports of an IPv4 TCP packet, and
// whether it is a SYN (without ACK: the client's opening).
func parseFlow(pkt []byte) (fl flow, syn, ok bool) {
	ip, err := ipv4.ParseHeader(pkt)
	if err != nil || ip.Protocol() != ipv4.ProtocolTCP {
		return flow{}, false, false
	}
	h, err := tcp.ParseHeader(ip.Payload())
	if err != nil {
		return flow{}, false, false
	}
	src := netip.AddrPortFrom(ip.Source(), h.SrcPort())
	dst := netip.AddrPortFrom(ip.Destination(), h.DstPort())
	if dst.Compare(src) < 0 {
		src, dst = dst, src
	}
	return flow{src, dst}, h.Flags()&(tcp.FlagSYN|tcp.FlagACK) == tcp.FlagSYN, true
}
