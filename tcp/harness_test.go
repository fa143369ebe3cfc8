package tcp

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// This file is the step-test harness: a Conn with a recording Output, a
// virtual "now", segments built from HeaderFields, and assertions on the
// exact segments a Conn emits, in the spirit of smoltcp's socket tests and
// CS144's step tests.

var (
	localAddr  = [4]byte{198, 18, 0, 1}
	remoteAddr = [4]byte{198, 18, 0, 2}
	testID     = FourTuple{LocalAddr: localAddr, RemoteAddr: remoteAddr, LocalPort: 80, RemotePort: 49152}
	epoch      = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
)

const (
	localISS  Seq = 1000
	remoteISS Seq = 5000
)

// sentSegment is one segment a Conn handed to Output, with its payload
// copied.
type sentSegment struct {
	HeaderFields
	Payload []byte
}

func (s sentSegment) String() string {
	return fmt.Sprintf("%v seq=%d ack=%d win=%d len=%d", s.Flags, s.Seq, s.Ack, s.Window, len(s.Payload))
}

// recorder is an Output that keeps every segment.
type recorder struct {
	segs []sentSegment
}

func (r *recorder) SendSegment(id FourTuple, f HeaderFields, p Payload) {
	r.segs = append(r.segs, sentSegment{HeaderFields: f, Payload: p.AppendTo(nil)})
}

// transitionLog is an Observer recording transitions (also into the global
// coverage set used by TestEveryTransitionExercised).
type transitionLog struct {
	seen            []Transition
	sent, received  int
	retransmissions int
}

var exercised = map[Transition]bool{}

func (l *transitionLog) StateChanged(id FourTuple, from, to State, cause Event) {
	tr := Transition{from, cause, to}
	l.seen = append(l.seen, tr)
	exercised[tr] = true
}
func (l *transitionLog) SegmentSent(_ FourTuple, _ *HeaderFields, _ int, retransmission bool) {
	l.sent++
	if retransmission {
		l.retransmissions++
	}
}
func (l *transitionLog) SegmentReceived(FourTuple, *Segment) { l.received++ }

// stepper drives one Conn.
type stepper struct {
	t   *testing.T
	c   *Conn
	out *recorder
	log *transitionLog
	now time.Time
}

func newStepper(t *testing.T, cfg Config) *stepper {
	t.Helper()
	out := &recorder{}
	s := &stepper{t: t, out: out, log: &transitionLog{}, now: epoch}
	s.c = NewConn(cfg, testID, localISS, out)
	s.c.SetObserver(s.log)
	return s
}

// testConfig is DefaultConfig with small, round numbers for step tests.
func testConfig() Config {
	cfg := DefaultConfig()
	cfg.MSS = 1000
	cfg.SendBufferSize = 64 << 10
	cfg.ReceiveBufferSize = 64 << 10
	cfg.ReassemblyLimit = 64 << 10
	cfg.WindowScale = false
	cfg.DelayedAck = 0
	// The classic tests below check RFC 5681/6582 behaviour segment by
	// segment; SACK, timestamps and CUBIC have their own tests.
	cfg.SACK, cfg.Timestamps = false, false
	cfg.ReceiveBufferMin = 0 // the whole buffer offered: no auto-tuning
	cfg.CongestionControl = "newreno"
	return cfg
}

// send feeds the Conn a segment from the peer.
func (s *stepper) send(f HeaderFields, payload string) {
	s.t.Helper()
	f.SrcPort, f.DstPort = testID.RemotePort, testID.LocalPort
	s.c.HandleSegment(Segment{HeaderFields: f, Payload: []byte(payload)}, s.now)
}

// advance moves the virtual clock by d and runs due timers.
func (s *stepper) advance(d time.Duration) {
	s.now = s.now.Add(d)
	if dl, ok := s.c.Deadline(); ok && !s.now.Before(dl) {
		s.c.HandleTimer(s.now)
	}
}

// advanceToDeadline jumps to the next deadline and runs it; it returns how
// far the clock moved.
func (s *stepper) advanceToDeadline() time.Duration {
	s.t.Helper()
	dl, ok := s.c.Deadline()
	if !ok {
		s.t.Fatalf("no deadline in state %v", s.c.State())
	}
	d := dl.Sub(s.now)
	s.now = dl
	s.c.HandleTimer(s.now)
	return d
}

// take returns and forgets the segments emitted so far.
func (s *stepper) take() []sentSegment {
	segs := s.out.segs
	s.out.segs = nil
	return segs
}

// expect asserts that exactly the given segments were emitted since the
// last take. Each want is "FLAGS seq=N ack=N win=N len=N" with any fields
// left out not checked, or "" for none at all.
func (s *stepper) expect(want ...string) []sentSegment {
	s.t.Helper()
	got := s.take()
	if len(got) != len(want) {
		s.t.Fatalf("emitted %d segments %v, want %d %q", len(got), got, len(want), want)
	}
	for i, w := range want {
		fields := strings.Fields(w)
		if fields[0] != got[i].Flags.String() {
			s.t.Fatalf("segment %d: %v, want %q", i, got[i], w)
		}
		for _, kv := range fields[1:] {
			k, v, _ := strings.Cut(kv, "=")
			var val string
			switch k {
			case "seq":
				val = fmt.Sprint(got[i].Seq)
			case "ack":
				val = fmt.Sprint(got[i].Ack)
			case "win":
				val = fmt.Sprint(got[i].Window)
			case "len":
				val = fmt.Sprint(len(got[i].Payload))
			case "mss":
				val = fmt.Sprint(got[i].Options.MSS)
			case "ws":
				val = "none"
				if got[i].Options.HasWindowScale {
					val = fmt.Sprint(got[i].Options.WindowScale)
				}
			default:
				s.t.Fatalf("bad expectation key %q", k)
			}
			if val != v {
				s.t.Fatalf("segment %d: %v: %s=%s, want %s", i, got[i], k, val, v)
			}
		}
	}
	return got
}

func (s *stepper) expectState(want State) {
	s.t.Helper()
	if got := s.c.State(); got != want {
		s.t.Fatalf("state %v, want %v", got, want)
	}
}

// Helpers that bring a Conn to a given state the usual way; the peer's
// sequence numbers start at remoteISS.

func establishedActive(t *testing.T, cfg Config) *stepper {
	s := newStepper(t, cfg)
	if err := s.c.Connect(s.now); err != nil {
		t.Fatal(err)
	}
	s.expect("SYN seq=1000")
	s.send(HeaderFields{Seq: remoteISS, Ack: localISS + 1, Flags: FlagSYN | FlagACK, Window: 10000,
		Options: Options{HasMSS: true, MSS: 1000}}, "")
	s.expect("ACK seq=1001 ack=5001")
	s.expectState(Established)
	return s
}

func establishedPassive(t *testing.T, cfg Config) *stepper {
	s := newStepper(t, cfg)
	syn := Segment{HeaderFields: HeaderFields{SrcPort: testID.RemotePort, DstPort: testID.LocalPort,
		Seq: remoteISS, Flags: FlagSYN, Window: 10000, Options: Options{HasMSS: true, MSS: 1000}}}
	if err := s.c.AcceptSyn(syn, s.now); err != nil {
		t.Fatal(err)
	}
	s.expect("SYN|ACK seq=1000 ack=5001")
	s.expectState(SynReceived)
	s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 1, Flags: FlagACK, Window: 10000}, "")
	s.expect()
	s.expectState(Established)
	return s
}

// ack sends a bare ACK from the peer with its sequence at peerSeq.
func (s *stepper) ack(peerSeq, ack Seq, window uint16) {
	s.t.Helper()
	s.send(HeaderFields{Seq: peerSeq, Ack: ack, Flags: FlagACK, Window: window}, "")
}

// toState brings a fresh Conn into state st with the simplest sequence of
// events, so that a table test can start from any state.
func toState(t *testing.T, st State) *stepper {
	t.Helper()
	return toStateWith(t, testConfig(), st)
}

// toStateWith is toState with a configuration of the test's own.
func toStateWith(t *testing.T, cfg Config, st State) *stepper {
	t.Helper()
	var s *stepper
	switch st {
	case Closed:
		s = newStepper(t, cfg)
	case Listen:
		s = newStepper(t, cfg)
		s.c.Listen()
	case SynSent:
		s = newStepper(t, cfg)
		s.c.Connect(s.now)
	case SynReceived:
		s = newStepper(t, cfg)
		s.c.Listen()
		s.send(HeaderFields{Seq: remoteISS, Flags: FlagSYN, Window: 10000}, "")
	case Established:
		s = establishedActive(t, cfg)
	case FinWait1:
		s = establishedActive(t, cfg)
		s.c.Close(s.now)
	case FinWait2:
		s = establishedActive(t, cfg)
		s.c.Close(s.now)
		s.ack(remoteISS+1, localISS+2, 10000)
	case CloseWait:
		s = establishedActive(t, cfg)
		s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 1, Flags: FlagFIN | FlagACK, Window: 10000}, "")
	case Closing:
		s = establishedActive(t, cfg)
		s.c.Close(s.now)
		s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 1, Flags: FlagFIN | FlagACK, Window: 10000}, "")
	case LastAck:
		s = toStateWith(t, cfg, CloseWait)
		s.c.Close(s.now)
	case TimeWait:
		s = toStateWith(t, cfg, FinWait2)
		s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 2, Flags: FlagFIN | FlagACK, Window: 10000}, "")
	}
	s.expectState(st)
	s.take()
	return s
}
