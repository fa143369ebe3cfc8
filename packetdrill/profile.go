package packetdrill

import (
	"fmt"
	"strconv"
	"time"
)

// Profile holds the defaults of the system a script was written for that
// are choices of that system, not rules of TCP: buffer sizes, the window
// scale they imply, the MSS a 1500-byte MTU gives, timer settings and
// which extensions are switched on. The runner hands it to the Target
// (Target.Configure) so that a stack with other defaults can be measured
// against scripts written for FreeBSD.
//
// A Profile configures the stack under test and nothing else: it holds no
// setting of the runner's checks. Flags, sequence and acknowledgment
// numbers, windows, options, timing and final states are always checked
// exactly as the script states them.
type Profile struct {
	// Name says where the values come from.
	Name string

	// StackDefaults runs the stack under test with its own default
	// configuration instead of this profile's values: only MTU and the
	// fcntl flag values apply, and "sysctl -w" lines are refused because
	// they would change nothing. It is for scripts written for that
	// stack's defaults (tundra's own, in conformance/tundra); see Tundra.
	StackDefaults bool

	// MTU of the link; the MSS option a stack announces follows from it
	// (MTU minus 40 bytes of IPv4 and TCP headers, RFC 9293 section
	// 3.7.1).
	MTU int

	// ReceiveBuffer is the default SO_RCVBUF (net.inet.tcp.recvspace);
	// the window a stack announces in its SYN is min(ReceiveBuffer,
	// 65535) (RFC 7323 section 2.2: the SYN's window is never scaled).
	ReceiveBuffer int
	// SendBuffer is the default SO_SNDBUF (net.inet.tcp.sendspace).
	SendBuffer int
	// MaxSocketBuffer is the largest buffer a socket may grow to
	// (kern.ipc.maxsockbuf). FreeBSD picks the window scale it offers as
	// the smallest shift with 65535 << shift >= MaxSocketBuffer: 6 for
	// 2 MiB.
	MaxSocketBuffer int
	// RoundReceiveBufferToMSS: once a connection is established FreeBSD
	// rounds SO_RCVBUF up to a multiple of the MSS (65536 becomes 65700
	// with MSS 1460), and getsockopt reports the rounded value.
	RoundReceiveBufferToMSS bool

	// WindowScaleAndTimestamps enables RFC 7323 options
	// (net.inet.tcp.rfc1323).
	WindowScaleAndTimestamps bool
	// SACK enables RFC 2018 selective acknowledgments
	// (net.inet.tcp.sack.enable).
	SACK bool
	// ECN is net.inet.tcp.ecn.enable: 0 off, 1 request and accept ECN
	// (RFC 3168), 2 accept it when the peer asks but never request it.
	ECN int
	// ECNMaxRetries is how many SYN retransmissions carry ECE|CWR before
	// they are dropped (net.inet.tcp.ecn.maxretries).
	ECNMaxRetries int

	// InsecureRST and InsecureSYN switch off the RFC 5961 checks of
	// sections 3 (RST: exact match or challenge ACK) and 4 (SYN: challenge
	// ACK) (net.inet.tcp.insecure_rst, insecure_syn). FreeBSD's default
	// is the RFC 5961 behaviour.
	InsecureRST, InsecureSYN bool
	// DropSynFin drops segments with both SYN and FIN set
	// (net.inet.tcp.drop_synfin).
	DropSynFin bool

	// RepeatFIN, ProcessOldACKs and ReceiveWindowFromBuffer are 4.4BSD's
	// choices where RFC 9293 leaves one (the tcp.Config fields of the same
	// names quote the RFC text): every ACK sent while our FIN is
	// unacknowledged repeats it (tcp_output); a duplicate segment's ACK
	// field is still processed (tcp_input, Stevens vol. 2 p. 960); and the
	// receive window the sequence tests use is the free buffer space, also
	// where the 16-bit window field advertises less.
	RepeatFIN, ProcessOldACKs, ReceiveWindowFromBuffer bool
	// OfferWholeBuffer: every segment offers the whole free buffer as its
	// window, rounded up to the window scale's unit (tcp_output's
	// receiver SWS avoidance).
	OfferWholeBuffer bool
	// TimeWaitIgnoresRST and TimeWaitACKsAll are FreeBSD's TIME-WAIT
	// (tcp_twcheck): every RST is ignored (RFC 1337), a segment without
	// ACK dropped, any other but a duplicate ACK acknowledged.
	TimeWaitIgnoresRST, TimeWaitACKsAll bool
	// Blackhole: 0 answers segments to closed ports with RST (RFC 9293
	// section 3.10.7.1); 1 and 2 stay silent (net.inet.tcp.blackhole).
	Blackhole int
	// ICMPMayRST lets ICMP errors end connections in SYN-SENT
	// (net.inet.tcp.icmp_may_rst): protocol and port unreachable,
	// administratively prohibited and time exceeded in transit, when they
	// quote the SYN (RFC 5927 section 4.1). Off, every ICMP error is soft
	// (RFC 9293 3.9.2.2 makes aborting on hard errors a SHOULD).
	ICMPMayRST bool
	// SynCookies and SynCookiesOnly select RFC 4987 section 3.6 SYN
	// cookies (net.inet.tcp.syncookies, syncookies_only).
	SynCookies, SynCookiesOnly bool

	// InitialRTO is the retransmission timeout before any RTT sample
	// (net.inet.tcp.rexmit_initial; RFC 6298 section 2.1 says 1 s).
	InitialRTO time.Duration
	// RexmitSlop is added to the RTO (net.inet.tcp.rexmit_slop).
	RexmitSlop time.Duration
	// MaxRetransmits is how many times a segment (a SYN too) is sent
	// again before the connection is dropped (TCP_MAXRXTSHIFT, 12), and
	// MaxRTO the ceiling of the backed-off retransmission timeout
	// (TCPTV_REXMTMAX, 64 s; RFC 6298 section 2.5 allows any of at least
	// 60 s). Both are constants of FreeBSD's tcp_timer.h.
	MaxRetransmits int
	MaxRTO         time.Duration
	// RexmitDropOptions: the third SYN retransmission drops options
	// (net.inet.tcp.rexmit_drop_options).
	RexmitDropOptions bool
	// KeepInit bounds the time to establish a connection
	// (net.inet.tcp.keepinit, the default of TCP_KEEPINIT; RFC 9293 3.8.3
	// lets the application give up on an open sooner than R2); KeepIdle,
	// KeepIntvl and KeepCnt drive keep-alives (RFC 9293 section 3.8.4).
	KeepInit, KeepIdle, KeepIntvl time.Duration
	KeepCnt                       int
	// MSL is the maximum segment lifetime; TIME-WAIT lasts 2*MSL
	// (net.inet.tcp.msl; RFC 9293 section 3.4.2).
	MSL time.Duration
	// DelayedACK is the delayed-ACK timer (net.inet.tcp.delacktime;
	// RFC 9293 section 3.8.6.3 caps it at 500 ms).
	DelayedACK time.Duration
	// InitialWindowSegments is the initial congestion window in segments
	// (RFC 6928).
	InitialWindowSegments int

	// UDPTunnelingPort and UDPTunnelingOverhead configure FreeBSD's UDP
	// encapsulation of TCP (net.inet.tcp.udp_tunneling_port, _overhead);
	// port 0 means off.
	UDPTunnelingPort, UDPTunnelingOverhead int

	// FlagRDWR and FlagNonblock are the values fcntl(F_GETFL) reports for
	// O_RDWR and O_NONBLOCK on FreeBSD, which scripts compare literally.
	FlagRDWR, FlagNonblock int
	// PollKernel is whose poll(2) the poll calls of a script follow: the
	// values of the POLL* symbols and the revents a socket's readiness
	// gives (PollLinux, the zero value, or PollFreeBSD).
	PollKernel PollKernel
}

// FreeBSD returns the defaults of FreeBSD 13/14 that the FreeBSD TCP test
// suite was written for. The values are those the scripts set or read
// back (sysctls at the top of each script, getsockopt checks) and the
// kernel defaults behind them.
func FreeBSD() Profile {
	return Profile{
		Name:                     "FreeBSD",
		MTU:                      1500,
		ReceiveBuffer:            65536,
		SendBuffer:               32768,
		MaxSocketBuffer:          2097152,
		RoundReceiveBufferToMSS:  true,
		WindowScaleAndTimestamps: true,
		SACK:                     true,
		ECN:                      2,
		ECNMaxRetries:            1,
		ICMPMayRST:               true,
		RepeatFIN:                true,
		ProcessOldACKs:           true,
		ReceiveWindowFromBuffer:  true,
		OfferWholeBuffer:         true,
		TimeWaitIgnoresRST:       true,
		TimeWaitACKsAll:          true,
		SynCookies:               true,
		InitialRTO:               time.Second,
		RexmitSlop:               200 * time.Millisecond,
		MaxRetransmits:           12,
		MaxRTO:                   64 * time.Second,
		KeepInit:                 75 * time.Second,
		KeepIdle:                 2 * time.Hour,
		KeepIntvl:                75 * time.Second,
		KeepCnt:                  8,
		MSL:                      30 * time.Second,
		DelayedACK:               40 * time.Millisecond,
		InitialWindowSegments:    10,
		FlagRDWR:                 0x2,
		FlagNonblock:             0x4,
		PollKernel:               PollFreeBSD,
	}
}

// Tundra returns the profile of scripts written for tundra's own defaults
// (tcp.DefaultConfig and the zero stack.Options): the target configures
// nothing but the 1500-byte MTU, so the scripts see what a program using
// tundra gets. fcntl(F_GETFL) reports Linux's O_RDWR and O_NONBLOCK, and
// poll follows Linux's tcp_poll, the system tundra runs on.
func Tundra() Profile {
	return Profile{
		Name:          "tundra",
		StackDefaults: true,
		MTU:           1500,
		FlagRDWR:      0x2,
		FlagNonblock:  0x800,
		PollKernel:    PollLinux,
	}
}

// ProfileNamed returns the profile called name: "freebsd" (FreeBSD, the
// default of the runner) or "tundra" (Tundra).
func ProfileNamed(name string) (Profile, error) {
	switch name {
	case "freebsd":
		return FreeBSD(), nil
	case "tundra":
		return Tundra(), nil
	}
	return Profile{}, fmt.Errorf("unknown profile %q (freebsd or tundra)", name)
}

// MSS is the maximum segment size the profile's MTU gives for IPv4 and
// TCP headers without options (RFC 9293 section 3.7.1; RFC 879).
func (p Profile) MSS() int { return p.MTU - 40 }

// WindowScale is the shift FreeBSD offers: the smallest with
// 65535 << shift >= MaxSocketBuffer, at most 14 (RFC 7323 section 2.3).
func (p Profile) WindowScale() int {
	shift := 0
	for shift < 14 && 65535<<shift < p.MaxSocketBuffer {
		shift++
	}
	return shift
}

// ApplySysctl sets the profile field behind a FreeBSD sysctl as a script's
// "sysctl -w name=value" line does. It returns an error for a name it does
// not know or a value it cannot parse, so that no script line is silently
// dropped.
func (p *Profile) ApplySysctl(name, value string) error {
	if p.StackDefaults {
		return fmt.Errorf("sysctl %s: profile %s runs the stack with its own defaults", name, p.Name)
	}
	n, err := strconv.ParseInt(value, 10, 64)
	if err != nil {
		return fmt.Errorf("sysctl %s: value %q is not an integer", name, value)
	}
	ms := time.Duration(n) * time.Millisecond
	on := n != 0
	switch name {
	case "net.inet.tcp.rfc1323":
		p.WindowScaleAndTimestamps = on
	case "net.inet.tcp.sack.enable":
		p.SACK = on
	case "net.inet.tcp.ecn.enable":
		p.ECN = int(n)
	case "net.inet.tcp.ecn.maxretries":
		p.ECNMaxRetries = int(n)
	case "net.inet.tcp.recvspace":
		p.ReceiveBuffer = int(n)
	case "net.inet.tcp.sendspace":
		p.SendBuffer = int(n)
	case "kern.ipc.maxsockbuf":
		p.MaxSocketBuffer = int(n)
	case "net.inet.tcp.insecure_rst":
		p.InsecureRST = on
	case "net.inet.tcp.insecure_syn":
		p.InsecureSYN = on
	case "net.inet.tcp.drop_synfin":
		p.DropSynFin = on
	case "net.inet.tcp.blackhole":
		p.Blackhole = int(n)
	case "net.inet.tcp.icmp_may_rst":
		p.ICMPMayRST = on
	case "net.inet.tcp.syncookies":
		p.SynCookies = on
	case "net.inet.tcp.syncookies_only":
		p.SynCookiesOnly = on
	case "net.inet.tcp.rexmit_initial":
		p.InitialRTO = ms
	case "net.inet.tcp.rexmit_slop":
		p.RexmitSlop = ms
	case "net.inet.tcp.rexmit_drop_options":
		p.RexmitDropOptions = on
	case "net.inet.tcp.keepinit":
		p.KeepInit = ms
	case "net.inet.tcp.keepidle":
		p.KeepIdle = ms
	case "net.inet.tcp.keepintvl":
		p.KeepIntvl = ms
	case "net.inet.tcp.keepcnt":
		p.KeepCnt = int(n)
	case "net.inet.tcp.msl":
		p.MSL = ms
	case "net.inet.tcp.delacktime":
		p.DelayedACK = ms
	case "net.inet.tcp.initcwnd_segments":
		p.InitialWindowSegments = int(n)
	case "net.inet.tcp.udp_tunneling_port":
		p.UDPTunnelingPort = int(n)
	case "net.inet.tcp.udp_tunneling_overhead":
		p.UDPTunnelingOverhead = int(n)
	case "net.inet.tcp.hostcache.purgenow":
		// A fresh target has no host cache to purge.
	default:
		return fmt.Errorf("unknown sysctl %s", name)
	}
	return nil
}
