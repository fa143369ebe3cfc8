package packetdrill

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tundra-net/tundra/clock"
)

// Default addresses of the in-memory link. packetdrill's defaults are
// 192.168.0.1 for the stack and 192.0.2.1 for the scripted peer; the
// runner uses the benchmarking range 198.18.0.0/15 instead, so a packet
// that ever escaped could not reach anyone.
var (
	DefaultLocal  = netip.MustParseAddr("198.18.0.1")
	DefaultRemote = netip.MustParseAddr("198.18.0.2")
)

const (
	// scriptPort is the port packetdrill binds listeners to and connects
	// to (its default --bind_port and --connect_port).
	scriptPort = 8080
	// remoteEphemeralPort is the scripted peer's port when it opens a
	// connection to a listener.
	remoteEphemeralPort = 49152
	// defaultTolerance is packetdrill's default --tolerance_usecs.
	defaultTolerance = 4 * time.Millisecond
	// maxSteps bounds the clock steps of one script, so that a target
	// whose timers keep firing at the same instant fails instead of
	// spinning forever.
	maxSteps = 1_000_000
)

// RunOptions configure Run.
type RunOptions struct {
	// NewTarget builds the stack under test for the script. Required.
	NewTarget TargetFactory
	// Profile is the starting profile; nil means FreeBSD().
	Profile *Profile
	// Local and Remote are the addresses of the stack and of the scripted
	// peer; zero values mean DefaultLocal and DefaultRemote.
	Local, Remote netip.Addr
	// RemoteISN is the scripted peer's initial sequence number: inbound
	// sequence numbers and outbound acknowledgment numbers are relative to
	// it. packetdrill uses 0.
	RemoteISN uint32
	// Tolerance overrides the script's --tolerance_usecs when not zero.
	Tolerance time.Duration
	// AnyTimeLimit is how long, in virtual time, the runner waits for an
	// outbound packet whose time is "*"; zero means 10 minutes.
	AnyTimeLimit time.Duration
	// Trace, if not nil, receives one line per event as it happens: the
	// virtual time, the packet the stack actually sent (with numbers made
	// relative like the script's), the injected packet, or the call and
	// what it returned.
	Trace io.Writer
	// StrictEnd also fails the script on a packet the stack sends after
	// its last event (typically the FIN a final close() sends, which many
	// scripts leave out). packetdrill stops reading the tunnel at the last
	// event and never sees such packets, so the default follows it: they
	// are traced, not checked. Scripts written to list everything (our
	// own, in conformance/tundra) run with StrictEnd. Packets the stack
	// sends before the last event are always checked.
	StrictEnd bool
	// KeepGoing runs the script to its end after a failed check, as if
	// every check were --non_fatal, to show every difference at once. The
	// script still fails: Run returns the first failure, with Later
	// counting the ones after it. Unsupported features still stop it.
	KeepGoing bool
}

// Failure explains why a script failed: the event, where it is in the
// script, and what went wrong.
type Failure struct {
	Path  string
	Pos   Pos
	Event string
	Msg   string
	// Later counts further failures found after this one, with
	// RunOptions.KeepGoing or --non_fatal.
	Later int
}

// Error formats the failure on one line: "path:line: event: message".
func (f *Failure) Error() string {
	msg := f.Msg
	if f.Later > 0 {
		msg += fmt.Sprintf(" (and %d later failures)", f.Later)
	}
	if f.Event == "" {
		return fmt.Sprintf("%s:%d: %s", f.Path, f.Pos.Line, msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", f.Path, f.Pos.Line, f.Event, msg)
}

// ErrUnsupported marks failures caused by a script feature the runner or
// the target does not implement (rather than a wrong answer of the
// stack). Use errors.Is on the error Run returns.
var ErrUnsupported = errors.New("unsupported")

// unsupportedError is a Failure about a missing feature.
type unsupportedError struct{ *Failure }

// Unwrap lets errors.Is find ErrUnsupported and errors.As the *Failure.
func (u unsupportedError) Unwrap() []error { return []error{u.Failure, ErrUnsupported} }

// Run executes the script against a fresh target and returns nil if the
// stack behaved as the script says, or an error (usually a *Failure)
// describing the first difference.
func Run(s *Script, opts RunOptions) error {
	if opts.NewTarget == nil {
		return errors.New("packetdrill: RunOptions.NewTarget is nil")
	}
	r, err := newRunner(s, opts)
	if err != nil {
		return err
	}
	defer r.target.Release()
	return r.run()
}

// observed is an outbound packet and the virtual time it was sent at.
type observed struct {
	pkt []byte
	at  time.Duration
}

// fdEntry is a descriptor of the script and the target handle behind it.
type fdEntry struct {
	handle   int
	nonblock bool
}

// flowState is what the runner has learned about the connection under
// test: its ports and the stack's initial sequence number and timestamp
// clock, from the stack's own SYN or SYN-ACK.
type flowState struct {
	localPort, remotePort uint16
	localISN              uint32 // 0 until the stack's first SYN
	tsOffset              uint32
	tsKnown               bool
}

// pendingCall is a blocking call that has not returned yet.
type pendingCall struct {
	ev      *Event
	sc      *Syscall
	started time.Duration
	due     time.Duration // expected return time
	attempt func() (ret int64, errno syscall.Errno, blocked bool)
}

type runner struct {
	s         *Script
	opts      RunOptions
	tolerance time.Duration
	// nonFatalSyscall and nonFatalPacket (--non_fatal=syscall,packet)
	// record a wrong result or outbound packet and go on; the script still
	// fails, with the first such failure.
	nonFatalSyscall, nonFatalPacket bool
	clk                             *clock.Virtual
	epoch                           time.Time
	target                          Target
	profile                         Profile
	dirty                           bool // profile changed since the last Configure
	local                           netip.Addr
	remote                          netip.Addr

	fds         map[int]*fdEntry
	lastFD      int // the socket a tcpi_state assertion looks at
	flow        flowState
	out         []observed
	pending     []*pendingCall
	lastTime    time.Duration // base of relative times
	ipID        uint16
	steps       int
	ev          *Event     // the event being run, for messages
	failures    []*Failure // recorded by non-fatal checks
	lastMatched []byte     // the outbound packet matched last, for the trace
	// valueMismatch is set by a getsockopt whose value differs from the
	// script's; checkReturn reports it.
	valueMismatch string
}

func newRunner(s *Script, opts RunOptions) (*runner, error) {
	r := &runner{
		s:         s,
		opts:      opts,
		tolerance: defaultTolerance,
		fds:       map[int]*fdEntry{},
		local:     opts.Local,
		remote:    opts.Remote,
		lastFD:    -1,
	}
	if !r.local.IsValid() {
		r.local = DefaultLocal
	}
	if !r.remote.IsValid() {
		r.remote = DefaultRemote
	}
	if opts.Profile != nil {
		r.profile = *opts.Profile
	} else {
		r.profile = FreeBSD()
	}
	if err := r.applyOptions(); err != nil {
		return nil, err
	}
	if opts.Tolerance != 0 {
		r.tolerance = opts.Tolerance
	}
	r.epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r.clk = clock.NewVirtual(r.epoch)
	t, err := opts.NewTarget(TargetConfig{Clock: r.clk, Local: r.local, Remote: r.remote, MTU: r.profile.MTU, Profile: r.profile})
	if err != nil {
		return nil, fmt.Errorf("%s: creating target: %w", s.Path, err)
	}
	r.target = t
	r.dirty = true
	r.flow.localPort = scriptPort
	r.flow.remotePort = remoteEphemeralPort
	return r, nil
}

// applyOptions reads the script's command-line options.
func (r *runner) applyOptions() error {
	for _, o := range r.s.Options {
		fail := func(format string, args ...any) *Failure {
			return &Failure{Path: r.s.Path, Pos: o.Pos, Event: "--" + o.Name, Msg: fmt.Sprintf(format, args...)}
		}
		switch o.Name {
		case "ip_version":
			if o.Value != "ipv4" {
				return unsupportedError{fail("unsupported: only IPv4 scripts can run")}
			}
		case "tolerance_usecs":
			n, err := strconv.Atoi(o.Value)
			if err != nil || n < 0 {
				return fail("bad tolerance %q", o.Value)
			}
			r.tolerance = time.Duration(n) * time.Microsecond
		case "mtu":
			n, err := strconv.Atoi(o.Value)
			if err != nil || n < 68 || n > 65535 {
				return fail("bad MTU %q", o.Value)
			}
			r.profile.MTU = n
		case "non_fatal":
			for _, kind := range strings.Split(o.Value, ",") {
				switch kind {
				case "syscall":
					r.nonFatalSyscall = true
				case "packet":
					r.nonFatalPacket = true
				default:
					return fail("unknown non_fatal kind %q", kind)
				}
			}
		case "local_ip", "remote_ip", "bind_port", "connect_port", "speed":
			// The in-memory link has its own addresses (see DefaultLocal);
			// these only matter on a real network.
		default:
			return unsupportedError{fail("unsupported: option --%s", o.Name)}
		}
	}
	return nil
}

// now is the virtual time since the script started.
func (r *runner) now() time.Duration { return r.clk.Now().Sub(r.epoch) }

func (r *runner) failf(format string, args ...any) error {
	f := &Failure{Path: r.s.Path, Msg: fmt.Sprintf(format, args...)}
	if r.ev != nil {
		f.Pos = r.ev.Pos
		f.Event = r.ev.Action.String()
	}
	return f
}

func (r *runner) unsupportedf(format string, args ...any) error {
	return unsupportedError{r.failf("unsupported: "+format, args...).(*Failure)}
}

func (r *runner) run() error {
	if r.s.InitCommand != nil {
		r.ev = r.s.InitCommand
		return r.unsupportedf("setup shell command")
	}
	for i := range r.s.Events {
		r.ev = &r.s.Events[i]
		if err := r.runEvent(r.ev); err != nil {
			if f := r.nonFatal(r.ev, err); f != nil {
				r.failures = append(r.failures, f)
				r.tracef(r.now(), "FAIL line %d: %s", f.Pos.Line, f.Msg)
				continue
			}
			return r.withLater(err)
		}
	}
	if err := r.finish(); err != nil {
		return r.withLater(err)
	}
	if len(r.failures) > 0 {
		return r.withLater(nil)
	}
	return nil
}

// withLater returns the first failure recorded by a non-fatal check, with
// the count of those after it (err included), or err if there was none.
func (r *runner) withLater(err error) error {
	if len(r.failures) == 0 {
		return err
	}
	first := r.failures[0]
	first.Later = len(r.failures) - 1
	if err != nil {
		first.Later++
	}
	return first
}

// nonFatal returns the failure if the script asked (--non_fatal, or
// RunOptions.KeepGoing) to go on after it, and nil if it ends the script.
// Unsupported features always end it.
func (r *runner) nonFatal(ev *Event, err error) *Failure {
	var f *Failure
	if _, unsupported := err.(unsupportedError); unsupported || !errors.As(err, &f) {
		return nil
	}
	if r.opts.KeepGoing || r.isNonFatalKind(ev) {
		return f
	}
	return nil
}

// isNonFatalKind reports whether --non_fatal covers this event's kind.
func (r *runner) isNonFatalKind(ev *Event) bool {
	switch a := ev.Action.(type) {
	case *Syscall:
		return r.nonFatalSyscall
	case *Packet:
		return r.nonFatalPacket && a.Direction == Outbound
	}
	return false
}

// eventWindow returns the earliest and latest acceptable times of an
// event, and the nominal time later relative times count from.
func (r *runner) eventWindow(ev *Event) (lo, hi, nominal time.Duration) {
	t := ev.Time
	switch t.Kind {
	case AbsoluteTime:
		return t.Start - r.tolerance, t.Start + r.tolerance, t.Start
	case RelativeTime:
		n := r.lastTime + t.Start
		return n - r.tolerance, n + r.tolerance, n
	case AbsoluteRange:
		return t.Start - r.tolerance, t.End + r.tolerance, t.Start
	case RelativeRange:
		return r.lastTime + t.Start - r.tolerance, r.lastTime + t.End + r.tolerance, r.lastTime + t.Start
	}
	limit := r.opts.AnyTimeLimit
	if limit == 0 {
		limit = 10 * time.Minute
	}
	return -1 << 62, r.now() + limit, r.now()
}

func (r *runner) runEvent(ev *Event) error {
	lo, hi, nominal := r.eventWindow(ev)
	if pkt, ok := ev.Action.(*Packet); ok && pkt.Direction == Outbound {
		at, err := r.expectPacket(pkt, lo, hi)
		if err != nil {
			return err
		}
		r.lastTime = at
		r.tracef(at, "%s", r.describe(r.lastMatched))
		return nil
	}
	if nominal < r.now() {
		// The previous event was an outbound packet that came late, within
		// the tolerance: this one runs as soon as possible. An absolute
		// time further in the past means the script's times go backwards.
		if ev.Time.Kind == AbsoluteTime && r.now()-nominal > r.tolerance {
			return r.failf("time %v is before the previous event (now %v)", nominal, r.now())
		}
		nominal = r.now()
	}
	if err := r.advanceTo(nominal); err != nil {
		return err
	}
	r.lastTime = nominal
	switch a := ev.Action.(type) {
	case *Packet:
		r.tracef(nominal, "%s", a)
		return r.inject(a)
	case *Syscall:
		return r.syscall(ev, a)
	case *Command:
		r.tracef(nominal, "%s", a)
		return r.command(a)
	case *Code:
		r.tracef(nominal, "%s", a)
		return r.code(a)
	}
	return r.failf("unknown event")
}

// tracef writes one trace line stamped with a virtual time.
func (r *runner) tracef(at time.Duration, format string, args ...any) {
	if r.opts.Trace != nil {
		fmt.Fprintf(r.opts.Trace, "%10.6f %s\n", at.Seconds(), fmt.Sprintf(format, args...))
	}
}

// step advances the clock to at most limit: to the next timer deadline if
// one is due by then, else to limit. Timers run synchronously inside.
func (r *runner) step(limit time.Duration) error {
	r.steps++
	if r.steps > maxSteps {
		return r.failf("target timers keep firing at %v without time passing", r.now())
	}
	// Stop at the next timer, and just past the time a blocked call
	// should have returned by, so that an overdue call is caught then.
	if len(r.pending) > 0 {
		if overdue := r.nextPendingDue() + time.Nanosecond; overdue > r.now() {
			limit = min(limit, overdue)
		}
	}
	to := r.epoch.Add(limit)
	if d, ok := r.clk.NextDeadline(); ok && !d.After(to) {
		to = d
	}
	r.clk.AdvanceTo(to)
	return r.settle()
}

// settle collects what the target sent and retries pending blocking calls
// until nothing changes.
func (r *runner) settle() error {
	for {
		for _, p := range r.target.Outbound() {
			r.out = append(r.out, observed{pkt: p, at: r.now()})
		}
		progressed, err := r.pollPending()
		if err != nil {
			return err
		}
		if !progressed {
			return r.checkOverdue()
		}
	}
}

// checkOverdue fails if a blocking call is still blocked after the time
// the script expects it to return.
func (r *runner) checkOverdue() error {
	for _, p := range r.pending {
		if r.now() > p.due+r.tolerance {
			r.ev = p.ev
			return r.failf("call still blocked at %v, expected to return at %v", r.now(), p.due)
		}
	}
	return nil
}

// advanceTo moves time forward to t, failing on any packet the stack
// sends meanwhile: the script does not expect one.
func (r *runner) advanceTo(t time.Duration) error {
	if err := r.settle(); err != nil {
		return err
	}
	for {
		if err := r.checkNoOutbound(); err != nil {
			return err
		}
		if r.now() >= t {
			return nil
		}
		if err := r.step(t); err != nil {
			return err
		}
	}
}

// checkNoOutbound fails if the stack sent a packet the script does not
// expect here.
func (r *runner) checkNoOutbound() error {
	if len(r.out) == 0 {
		return nil
	}
	// The packet is reported once: with --non_fatal or KeepGoing the
	// script goes on without it.
	o := r.out[0]
	r.out = r.out[1:]
	return r.failf("unexpected packet at %v: %s", o.at, r.describe(o.pkt))
}

// expectPacket waits, within [lo, hi], for the next outbound packet and
// matches it against the script. It returns the time it was sent.
func (r *runner) expectPacket(want *Packet, lo, hi time.Duration) (time.Duration, error) {
	if err := r.settle(); err != nil {
		return 0, err
	}
	for len(r.out) == 0 {
		if r.now() >= hi {
			return 0, r.failf("expected packet by %v, none was sent (tolerance %v)", hi, r.tolerance)
		}
		if err := r.step(hi); err != nil {
			return 0, err
		}
	}
	o := r.out[0]
	r.out = r.out[1:]
	r.lastMatched = o.pkt
	if o.at < lo {
		return 0, r.failf("packet sent at %v, too early: expected %v..%v: %s", o.at, lo, hi, r.describe(o.pkt))
	}
	if o.at > hi {
		return 0, r.failf("packet sent at %v, too late: expected %v..%v: %s", o.at, lo, hi, r.describe(o.pkt))
	}
	if err := r.match(want, o.pkt); err != nil {
		return 0, err
	}
	return o.at, nil
}

// finish lets blocking calls complete by their due times and, with
// RunOptions.StrictEnd, checks that nothing was sent after the last event.
func (r *runner) finish() error {
	r.ev = nil
	for len(r.pending) > 0 {
		// Let time run to just past the earliest due time; the call either
		// returns on the way or checkOverdue reports it.
		if err := r.advanceTo(r.nextPendingDue() + 1); err != nil {
			return err
		}
	}
	if err := r.settle(); err != nil {
		return err
	}
	if len(r.out) > 0 && r.opts.StrictEnd {
		last := &r.s.Events[len(r.s.Events)-1]
		r.ev = last
		return r.failf("unexpected packet after the last event, at %v: %s", r.out[0].at, r.describe(r.out[0].pkt))
	}
	for _, o := range r.out {
		r.tracef(o.at, "%s (after the last event: not checked)", r.describe(o.pkt))
	}
	return nil
}

func (r *runner) nextPendingDue() time.Duration {
	d := time.Duration(1<<63 - 1)
	for _, p := range r.pending {
		d = min(d, p.due+r.tolerance)
	}
	return d
}

// configure hands the profile to the target if it changed.
func (r *runner) configure() error {
	if !r.dirty {
		return nil
	}
	r.dirty = false
	if err := r.target.Configure(r.profile); err != nil {
		return unsupportedError{r.failf("unsupported: target cannot use profile: %v", err).(*Failure)}
	}
	return nil
}

// command runs a backquoted shell line. Nothing is run on the host: the
// lines the FreeBSD suite uses are interpreted against the target, and any
// other is reported as unsupported.
func (r *runner) command(c *Command) error {
	text := strings.TrimSpace(c.Text)
	fields := strings.Fields(text)
	switch {
	case len(fields) == 3 && fields[0] == "sysctl" && fields[1] == "-w":
		name, value, ok := strings.Cut(fields[2], "=")
		if !ok {
			return r.failf("sysctl -w needs name=value")
		}
		if err := r.profile.ApplySysctl(name, value); err != nil {
			return unsupportedError{r.failf("unsupported: %v", err).(*Failure)}
		}
		r.dirty = true
		return nil
	case len(fields) > 0 && fields[0] == "sockstat":
		state, count, err := parseSockstat(text)
		if err != nil {
			return r.unsupportedf("%v", err)
		}
		if err := r.configure(); err != nil {
			return err
		}
		got := 0
		for _, s := range r.target.Connections() {
			if s == state {
				got++
			}
		}
		if got != count {
			return r.failf("%d connections in %v, script expects %d", got, state, count)
		}
		return nil
	}
	return r.unsupportedf("shell command")
}

// parseSockstat reads "sockstat ... | grep -c STATE | grep N", the
// FreeBSD suite's way of counting connections in a state.
func parseSockstat(cmd string) (TCPState, int, error) {
	stages := strings.Split(cmd, "|")
	var state TCPState
	haveState, count := false, -1
	for _, st := range stages[1:] {
		f := strings.Fields(st)
		switch {
		case len(f) == 3 && f[0] == "grep" && f[1] == "-c":
			s, ok := sockstatStates[f[2]]
			if !ok {
				return 0, 0, fmt.Errorf("sockstat state %q", f[2])
			}
			state, haveState = s, true
		case len(f) == 2 && f[0] == "grep" && haveState:
			n, err := strconv.Atoi(f[1])
			if err != nil {
				return 0, 0, fmt.Errorf("sockstat count %q", f[1])
			}
			count = n
		case len(f) == 2 && f[0] == "grep":
			// A filter on the process name: every connection of the
			// target belongs to the script.
		default:
			return 0, 0, fmt.Errorf("sockstat pipeline stage %q", strings.TrimSpace(st))
		}
	}
	if !haveState || count < 0 {
		return 0, 0, fmt.Errorf("sockstat pipeline without grep -c STATE | grep N")
	}
	return state, count, nil
}

// code runs a %{ }% snippet. packetdrill runs these in Python with the
// socket's tcp_info in scope; the runner understands the two assertions
// the FreeBSD suite makes: "assert tcpi_state == TCPI_..." and
// "assert tcpi_options == EXPR" (EXPR a number or TCPI_OPT_* names joined
// by "|", optionally in parentheses). Both look at the socket used last.
func (r *runner) code(c *Code) error {
	text := strings.TrimSpace(c.Text)
	rest, ok := strings.CutPrefix(text, "assert ")
	if !ok {
		return r.unsupportedf("code snippet")
	}
	field, want, ok := strings.Cut(rest, "==")
	if !ok {
		return r.unsupportedf("code snippet")
	}
	field, want = strings.TrimSpace(field), strings.TrimSpace(want)
	if field != "tcpi_state" && field != "tcpi_options" {
		return r.unsupportedf("assertion on %s", field)
	}
	e, ok := r.fds[r.lastFD]
	if !ok {
		return r.failf("no open socket to read tcp_info from")
	}
	info := r.target.Info(e.handle)
	if field == "tcpi_state" {
		state, ok := tcpiStates[want]
		if !ok {
			return r.failf("unknown state %s", want)
		}
		if info.State != state {
			return r.failf("tcpi_state is %v, script expects %v", info.State, state)
		}
		return nil
	}
	bits, err := tcpiOptionsValue(want)
	if err != nil {
		return r.failf("%v", err)
	}
	if got := info.optionBits(); got != bits {
		return r.failf("tcpi_options is %#x (%+v), script expects %#x", got, info, bits)
	}
	return nil
}

// tcpiOptionsValue evaluates "0", "(TCPI_OPT_SACK | TCPI_OPT_WSCALE)" and
// the like.
func tcpiOptionsValue(expr string) (int64, error) {
	expr = strings.TrimSpace(expr)
	if strings.HasPrefix(expr, "(") && strings.HasSuffix(expr, ")") {
		expr = expr[1 : len(expr)-1]
	}
	var bits int64
	for _, term := range strings.Split(expr, "|") {
		term = strings.TrimSpace(term)
		if v, ok := tcpiOptionBits[term]; ok {
			bits |= v
			continue
		}
		v, err := strconv.ParseInt(term, 0, 64)
		if err != nil {
			return 0, fmt.Errorf("cannot evaluate %q in tcpi_options", term)
		}
		bits |= v
	}
	return bits, nil
}
