// Package sim runs a TCP transfer between two tundra stacks in memory, on a
// virtual clock, through a link with the loss, delay and rate you choose,
// and reports what happened: the time it took, the goodput, the
// retransmissions, and the congestion window, RTT and sequence numbers over
// time (as SVG plots). It is `tundra sim`, and a laboratory for congestion
// control: a 10 MB transfer over a lossy 20 ms path takes well under a
// second of real time.
//
// # How it stays deterministic
//
// Both stacks run in stack.Options.Manual mode (no pump goroutine) over the
// two ends of a link/pipe, each end wrapped in link/impair with seeded
// randomness, all on one clock.Virtual. Run's single goroutine is the
// whole world: it moves the packets waiting in each pipe into the other
// stack (DeliverPackets), lets the applications read and write, and when
// nothing is left to do advances the clock to the next timer (a delayed
// packet's arrival, a retransmission timeout, a delayed ACK). The
// applications never block: the sender writes only what Writable says fits
// and the receiver reads only when ReadReady says there is something, and
// the connection is opened with StartDialTCP and accepted with
// TryAcceptTCP. So nothing depends on the Go scheduler or on real time, and
// the same Config gives the same Result, to the nanosecond. (Initial
// sequence numbers and ephemeral ports are still random, as they must be;
// every number reported is relative to them.)
package sim

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tundra-net/tundra/clock"
	"github.com/tundra-net/tundra/link"
	"github.com/tundra-net/tundra/link/impair"
	"github.com/tundra-net/tundra/link/pipe"
	"github.com/tundra-net/tundra/stack"
	"github.com/tundra-net/tundra/tcp"
	"github.com/tundra-net/tundra/trace"
)

// Config describes one simulated transfer. Zero fields take the defaults
// documented on them.
type Config struct {
	// Seed seeds every random choice of the link (loss, jitter).
	Seed uint64
	// Loss is the probability, 0 to 1, that a packet is lost, in each
	// direction.
	Loss float64
	// Delay is the one-way propagation delay, in each direction; the
	// round-trip time without queueing is twice it.
	Delay time.Duration
	// Rate is the link's speed in bits per second in each direction; 0
	// means unlimited. RateQueue (default 100 packets) is the bottleneck
	// queue; packets beyond it are tail-dropped.
	Rate      int64
	RateQueue int
	// Size is how many bytes the client sends to the server. Default 1 MB.
	Size int64
	// MTU of the link; default 1500.
	MTU int
	// Offload makes the link advertise TCP segmentation offload, as a TUN
	// with IFF_VNET_HDR does: the sender hands it super-segments of up to
	// 64 KB (tcp.Config.GSOMaxSize), the receiver gets them whole, and the
	// link loses, delays and rate-limits each one as a single packet, as
	// the kernel's firewall drops a GSO packet a TUN delivers (loss comes
	// in bursts of up to 44 segments then).
	Offload bool
	// CongestionControl names the sender's algorithm, one of
	// tcp.CongestionControls(): "cubic" (RFC 9438, the default),
	// "newreno" (RFC 5681, RFC 6582), or one a program registered with
	// tcp.RegisterCongestionControl (examples/aimd does). Empty means
	// tcp.DefaultCongestionControl.
	CongestionControl string
	// TCP configures both stacks' connections; zero means
	// tcp.DefaultConfig().
	TCP tcp.Config
	// TimeLimit bounds the simulated time; default 10 minutes.
	TimeLimit time.Duration
	// Observe, if set, is called with the sender's Tracer before the
	// transfer starts, to subscribe to more events (a Ladder, JSONLines).
	Observe func(*trace.Tracer)
}

// Result is what a run measured. Times are virtual, counted from the
// client's SYN.
type Result struct {
	Config Config
	// Duration is the time from the client's SYN until the server had read
	// every byte and the end of the stream.
	Duration time.Duration
	Bytes    int64
	// Goodput is Bytes*8/Duration, in bits per second.
	Goodput float64
	// CongestionControl is the algorithm the sender ran, as its Stats
	// name it.
	CongestionControl string
	// SendMSS is the sender's segment size: the MSS less the options
	// every segment carries (12 bytes with timestamps).
	SendMSS int
	// Sender's counters.
	SegmentsSent, Retransmissions, Timeouts, FastRetransmits int
	// TailLossProbes counts the sender's probes (RFC 8985 section 7):
	// each one followed a PTO with no ACK.
	TailLossProbes int
	// Link counters, both directions together.
	LinkLost, LinkRateDropped uint64
	// Congestion samples the sender's window and RTT whenever they changed.
	Congestion []CongestionSample
	// Sent lists the data segments the sender sent; Acks the
	// acknowledgment numbers it received (relative, in bytes).
	Sent []SeqSample
	Acks []SeqSample
}

// CongestionSample is the sender's state at one moment.
type CongestionSample struct {
	Time                              time.Duration
	CongestionWindow, SlowStartThresh int
	SRTT, RTO                         time.Duration
}

// SeqSample is one sequence number at one moment.
type SeqSample struct {
	Time           time.Duration
	Seq            uint32 // relative: the first data byte is 1
	Len            int
	Retransmission bool
}

// Addresses of the two simulated hosts (198.18.0.0/15, the benchmarking
// range the project uses everywhere).
var (
	ClientAddr = netip.MustParseAddr("198.18.0.1")
	ServerAddr = netip.MustParseAddr("198.18.0.2")
)

// The ports of the transfer: fixed, so that traces are identical from run
// to run.
const (
	clientPort = 40000
	serverPort = 5001
)

// Errors Run returns.
var (
	ErrUnknownCongestionControl = errors.New("sim: unknown congestion control")
	ErrStalled                  = errors.New("sim: the transfer stalled: no packet in flight and no timer pending")
	ErrTimeLimit                = errors.New("sim: time limit reached before the transfer finished")
)

// Run performs the transfer Config describes and returns its Result.
func Run(cfg Config) (*Result, error) {
	if cfg.Size <= 0 {
		cfg.Size = 1 << 20
	}
	if cfg.MTU == 0 {
		cfg.MTU = pipe.DefaultMTU
	}
	if cfg.TimeLimit <= 0 {
		cfg.TimeLimit = 10 * time.Minute
	}
	if cfg.CongestionControl != "" && !slices.Contains(tcp.CongestionControls(), cfg.CongestionControl) {
		return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownCongestionControl, cfg.CongestionControl,
			strings.Join(tcp.CongestionControls(), ", "))
	}
	tcpConfig := cfg.TCP
	if reflect.ValueOf(tcpConfig).IsZero() {
		tcpConfig = tcp.DefaultConfig()
	}
	tcpConfig.CongestionControl = cfg.CongestionControl
	if cfg.Loss < 0 || cfg.Loss > 1 || cfg.Delay < 0 || cfg.Rate < 0 {
		return nil, errors.New("sim: loss must be in [0, 1], delay and rate not negative")
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clock.NewVirtual(start)
	direction := func(seed uint64) impair.Direction {
		return impair.Direction{Seed: seed, Loss: cfg.Loss, Delay: cfg.Delay, Rate: cfg.Rate, RateQueue: cfg.RateQueue}
	}
	popts := pipe.Options{MTU: cfg.MTU, QueueLen: 1 << 16}
	if cfg.Offload {
		popts.Offloads = link.Offloads{TSO4: true, Checksum: true}
	}
	pc, ps := pipe.New(popts)
	ic := impair.New(pc, impair.Config{Write: direction(cfg.Seed)}, clk)
	is := impair.New(ps, impair.Config{Write: direction(cfg.Seed ^ 0x9e3779b97f4a7c15)}, clk)

	tracer := trace.New(clk)
	res := &Result{Config: cfg, Bytes: cfg.Size}
	rel := func(t time.Time) time.Duration { return t.Sub(start) }
	tracer.Subscribe(trace.Congestion, func(e *trace.Event) {
		res.Congestion = append(res.Congestion, CongestionSample{Time: rel(e.Time),
			CongestionWindow: e.CongestionWindow, SlowStartThresh: e.SlowStartThresh, SRTT: e.SRTT, RTO: e.RTO})
	})
	tracer.Subscribe(trace.SegmentOut|trace.SegmentIn, func(e *trace.Event) {
		switch {
		case e.Kind == trace.SegmentOut && e.PayloadLen > 0:
			res.Sent = append(res.Sent, SeqSample{Time: rel(e.Time), Seq: e.RelSeq, Len: e.PayloadLen, Retransmission: e.Retransmission})
		case e.Kind == trace.SegmentIn && e.Fields.Flags&tcp.FlagACK != 0:
			if n := len(res.Acks); n == 0 || res.Acks[n-1].Seq != e.RelAck {
				res.Acks = append(res.Acks, SeqSample{Time: rel(e.Time), Seq: e.RelAck})
			}
		}
	})
	if cfg.Observe != nil {
		cfg.Observe(tracer)
	}

	client, err := stack.New(ic, stack.Options{Addresses: []netip.Addr{ClientAddr}, Clock: clk, Manual: true,
		TCP: tcpConfig, Observer: tracer})
	if err != nil {
		return nil, err
	}
	defer client.Close()
	server, err := stack.New(is, stack.Options{Addresses: []netip.Addr{ServerAddr}, Clock: clk, Manual: true, TCP: tcpConfig})
	if err != nil {
		return nil, err
	}
	defer server.Close()
	// Deferred calls run last first: the subscribers hear nothing of the
	// aborts when the stacks close.
	defer tracer.UnsubscribeAll()
	l, err := server.ListenTCP(netip.AddrPortFrom(ServerAddr, serverPort), 1)
	if err != nil {
		return nil, err
	}
	w := &world{clk: clk, client: client, server: server, toClient: pc, toServer: ps}
	// One packet at a time, so that the congestion window is sampled
	// after every ACK, not once per burst.
	w.batch = make([]link.Packet, 1)
	for i := range w.batch {
		w.batch[i].Data = make([]byte, 0, pc.MaxPacketSize())
	}

	conn, err := client.StartDialTCP(clientPort, netip.AddrPortFrom(ServerAddr, serverPort))
	if err != nil {
		return nil, err
	}
	w.afterDelivery = func() { tracer.SampleCongestion(conn.ID(), conn.Stats()) }
	var (
		accepted *stack.TCPConn
		sent     int64
		received int64
		wbuf     = make([]byte, 64<<10)
		rbuf     = make([]byte, 64<<10)
		closed   bool
	)
	for i := range wbuf {
		wbuf[i] = byte(i)
	}
	for {
		progress := w.movePackets()
		if accepted == nil {
			accepted = l.TryAcceptTCP()
		}
		if accepted != nil {
			for accepted.ReadReady() {
				n, err := accepted.Read(rbuf)
				received += int64(n)
				progress = progress || n > 0
				if err == io.EOF {
					if received != cfg.Size {
						return nil, fmt.Errorf("sim: the server read %d bytes, want %d", received, cfg.Size)
					}
					res.Duration = rel(clk.Now())
					w.finish(res, conn, ic, is)
					accepted.Close()
					w.drain(conn, cfg.TimeLimit)
					return res, nil
				}
				if err != nil {
					return nil, fmt.Errorf("sim: server read: %w", err)
				}
			}
		}
		if sent < cfg.Size {
			if n := min(int64(conn.Writable()), cfg.Size-sent, int64(len(wbuf))); n > 0 {
				m, err := conn.Write(wbuf[:n])
				sent += int64(m)
				progress = true
				if err != nil {
					return nil, fmt.Errorf("sim: client write: %w", err)
				}
			}
		} else if !closed && conn.State() != tcp.SynSent {
			// Not before the handshake is done: CLOSE in SYN-SENT deletes
			// the connection, queued data and all (RFC 9293 3.10.4).
			closed = true
			conn.Close()
			progress = true
		}
		if conn.State() == tcp.Closed && (accepted == nil || !accepted.ReadReady()) {
			return nil, fmt.Errorf("sim: the connection closed before the server read everything (%d of %d bytes)", received, cfg.Size)
		}
		tracer.SampleCongestion(conn.ID(), conn.Stats())
		if progress {
			continue
		}
		if !clk.AdvanceToNext() {
			return nil, ErrStalled
		}
		if rel(clk.Now()) > cfg.TimeLimit {
			return nil, fmt.Errorf("%w (%v, %d of %d bytes received)", ErrTimeLimit, cfg.TimeLimit, received, cfg.Size)
		}
	}
}

// world is the simulated network: two stacks, the pipe ends they read
// from, and the clock.
type world struct {
	clk                *clock.Virtual
	client, server     *stack.Stack
	toClient, toServer *pipe.Endpoint // the ends each stack reads
	batch              []link.Packet
	afterDelivery      func() // called after each delivery, if set
}

// movePackets delivers every packet waiting in either pipe to its stack,
// and reports whether there were any.
func (w *world) movePackets() bool {
	moved := false
	for _, hop := range []struct {
		ep *pipe.Endpoint
		st *stack.Stack
	}{{w.toServer, w.server}, {w.toClient, w.client}} {
		for {
			for i := range w.batch {
				w.batch[i].Data = w.batch[i].Data[:cap(w.batch[i].Data)]
				w.batch[i].Offload = link.Offload{}
			}
			n, _ := hop.ep.PollPackets(w.batch)
			if n == 0 {
				break
			}
			for i := range w.batch[:n] {
				// A super-segment arrives as GRO would hand it up: checked.
				if off := &w.batch[i].Offload; off.NeedsChecksum {
					*off = link.Offload{ChecksumValid: true}
				}
			}
			hop.st.DeliverPackets(w.batch[:n])
			if w.afterDelivery != nil {
				w.afterDelivery()
			}
			moved = true
		}
	}
	return moved
}

// drain lets the closing handshake finish after the transfer (so that a
// trace shows it whole): it runs until the client reaches TIME-WAIT or
// CLOSED, for at most a few seconds of simulated time. The Result is
// already complete.
func (w *world) drain(conn *stack.TCPConn, limit time.Duration) {
	end := w.clk.Now().Add(min(limit, 10*time.Second))
	for {
		if w.movePackets() {
			continue
		}
		if st := conn.State(); st == tcp.TimeWait || st == tcp.Closed {
			return
		}
		next, ok := w.clk.NextDeadline()
		if !ok || next.After(end) {
			return
		}
		w.clk.AdvanceTo(next)
	}
}

// finish fills in the counters at the end of a run.
func (w *world) finish(res *Result, conn *stack.TCPConn, ic, is *impair.Endpoint) {
	st := conn.Stats()
	res.SendMSS, res.CongestionControl = st.SendMSS, st.CongestionControl
	res.SegmentsSent, res.Retransmissions = st.SegmentsSent, st.Retransmissions
	res.Timeouts, res.FastRetransmits = st.Timeouts, st.FastRetransmits
	res.TailLossProbes = st.TailLossProbes
	if res.Duration > 0 {
		res.Goodput = float64(res.Bytes) * 8 / res.Duration.Seconds()
	}
	for _, s := range []impair.Stats{ic.Stats(), is.Stats()} {
		res.LinkLost += s.Write.Lost
		res.LinkRateDropped += s.Write.RateDropped
	}
}

// WriteSummary prints the result in a few lines.
func (r *Result) WriteSummary(w io.Writer) error {
	c := r.Config
	rate := "unlimited"
	if c.Rate > 0 {
		rate = FormatRate(float64(c.Rate))
	}
	cc := r.CongestionControl
	_, err := fmt.Fprintf(w, `link:      loss %g, one-way delay %v, rate %s, MTU %d, seed %d
transfer:  %s with %s in %v (simulated)
goodput:   %s
sender:    %d segments, %d retransmitted (%d fast retransmits, %d timeouts)
link:      %d packets lost, %d tail-dropped at the bottleneck
`, c.Loss, c.Delay, rate, c.MTU, c.Seed, FormatSize(r.Bytes), cc, r.Duration.Round(time.Microsecond),
		FormatRate(r.Goodput), r.SegmentsSent, r.Retransmissions, r.FastRetransmits, r.Timeouts,
		r.LinkLost, r.LinkRateDropped)
	return err
}

// ParseRate parses a link speed such as "10mbit", "1.5gbit", "800kbit" or
// "1000000" (bits per second).
func ParseRate(s string) (int64, error) {
	v, unit, err := splitNumber(strings.ToLower(s))
	if err != nil {
		return 0, fmt.Errorf("sim: rate %q: %w", s, err)
	}
	mult := map[string]float64{"": 1, "bit": 1, "bps": 1, "kbit": 1e3, "mbit": 1e6, "gbit": 1e9}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("sim: rate %q: unit must be bit, kbit, mbit or gbit", s)
	}
	return int64(v * mult), nil
}

// ParseSize parses a byte count such as "10MB", "512KB", "1GB" or "1500"
// (powers of 1000, as network people count; "MiB" for powers of 1024).
func ParseSize(s string) (int64, error) {
	v, unit, err := splitNumber(strings.ToLower(s))
	if err != nil {
		return 0, fmt.Errorf("sim: size %q: %w", s, err)
	}
	mult := map[string]float64{"": 1, "b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("sim: size %q: unit must be B, KB, MB, GB, KiB, MiB or GiB", s)
	}
	return int64(v * mult), nil
}

func splitNumber(s string) (float64, string, error) {
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	v, err := strconv.ParseFloat(s[:i], 64)
	if err != nil || v < 0 {
		return 0, "", errors.New("not a non-negative number")
	}
	return v, s[i:], nil
}

// FormatRate prints bits per second with a unit: "9.87 Mbit/s".
func FormatRate(bps float64) string {
	switch {
	case bps >= 1e9:
		return fmt.Sprintf("%.2f Gbit/s", bps/1e9)
	case bps >= 1e6:
		return fmt.Sprintf("%.2f Mbit/s", bps/1e6)
	case bps >= 1e3:
		return fmt.Sprintf("%.2f kbit/s", bps/1e3)
	}
	return fmt.Sprintf("%.0f bit/s", bps)
}

// FormatSize prints a byte count with a unit: "10 MB".
func FormatSize(n int64) string {
	switch {
	case n >= 1e9 && n%1e7 == 0:
		return fmt.Sprintf("%g GB", float64(n)/1e9)
	case n >= 1e6 && n%1e4 == 0:
		return fmt.Sprintf("%g MB", float64(n)/1e6)
	case n >= 1e3 && n%10 == 0:
		return fmt.Sprintf("%g KB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d bytes", n)
}
