package packetdrill

import (
	"encoding/binary"
	"net/netip"
	"syscall"
	"time"

	"github.com/tundra-net/tundra/clock"
)

// fakeTarget is a deliberately small TCP written for the runner's tests:
// enough of RFC 9293 for handshakes, one data segment, FIN and RST, with a
// SYN retransmission timer on the virtual clock. Its ISN and timestamp
// clock differ from the scripts' numbers so that the runner's translation
// is exercised.
type fakeTarget struct {
	cfg        TargetConfig
	profile    Profile
	configured int
	out        [][]byte
	socks      map[int]*fakeSock
	next       int
	synRetries int // SYN retransmissions before ETIMEDOUT
	released   bool
}

type fakeSock struct {
	state        TCPState
	localPort    uint16
	remotePort   uint16
	iss          uint32
	sndNxt       uint32
	rcvNxt       uint32
	acceptQ      []int
	listener     int // handle of the listener a child came from
	soErr        syscall.Errno
	timer        clock.Timer
	retries      int
	rto          time.Duration
	tsSent       uint32
	received     int
	hasHandle    bool
	peerClosed   bool
	wantTSEchoOf uint32
}

const (
	fakeISN    = 0x10000000
	fakeTSBase = 7000
)

func newFakeTarget(cfg TargetConfig) (Target, error) {
	return &fakeTarget{cfg: cfg, profile: cfg.Profile, socks: map[int]*fakeSock{}, next: 100, synRetries: 3}, nil
}

func (f *fakeTarget) Configure(p Profile) error { f.profile = p; f.configured++; return nil }
func (f *fakeTarget) Outbound() [][]byte        { o := f.out; f.out = nil; return o }
func (f *fakeTarget) Release()                  { f.released = true }

func (f *fakeTarget) tsNow() uint32 {
	return fakeTSBase + uint32(f.cfg.Clock.Now().UnixMilli()%100000)
}

// send emits a segment on s's connection.
func (f *fakeTarget) send(s *fakeSock, flags uint8, seq, ack uint32, payload int, opts []byte) {
	seg := buildTCP(f.cfg.Local, f.cfg.Remote, tcpFields{
		srcPort: s.localPort, dstPort: s.remotePort, seq: seq, ack: ack,
		flags: flags, window: 65535, options: opts, payloadLen: payload,
	})
	f.out = append(f.out, buildIPv4(ipv4Fields{src: f.cfg.Local, dst: f.cfg.Remote, proto: protoTCP}, seg))
}

func (f *fakeTarget) synOptions(s *fakeSock) []byte {
	s.tsSent = f.tsNow()
	b := []byte{2, 4, 0x05, 0xb4, 1, 3, 3, 6, 4, 2, 8, 10}
	b = binary.BigEndian.AppendUint32(b, s.tsSent)
	return binary.BigEndian.AppendUint32(b, 0)
}

func (f *fakeTarget) sendSYN(s *fakeSock) {
	f.send(s, FlagSYN, s.iss, 0, 0, f.synOptions(s))
}

func (f *fakeTarget) Socket() (int, syscall.Errno) {
	f.next++
	f.socks[f.next] = &fakeSock{state: Closed, hasHandle: true}
	return f.next, 0
}

func (f *fakeTarget) sock(h int) (*fakeSock, syscall.Errno) {
	s, ok := f.socks[h]
	if !ok || !s.hasHandle {
		return nil, syscall.EBADF
	}
	return s, 0
}

func (f *fakeTarget) Bind(h int, addr netip.AddrPort) syscall.Errno {
	s, e := f.sock(h)
	if e != 0 {
		return e
	}
	s.localPort = addr.Port()
	return 0
}

func (f *fakeTarget) Listen(h int, backlog int) syscall.Errno {
	s, e := f.sock(h)
	if e != 0 {
		return e
	}
	s.state = Listen
	return 0
}

func (f *fakeTarget) Accept(h int) (int, syscall.Errno) {
	s, e := f.sock(h)
	if e != 0 {
		return -1, e
	}
	if len(s.acceptQ) == 0 {
		return -1, syscall.EAGAIN
	}
	c := s.acceptQ[0]
	s.acceptQ = s.acceptQ[1:]
	f.socks[c].hasHandle = true
	return c, 0
}

func (f *fakeTarget) Connect(h int, addr netip.AddrPort) syscall.Errno {
	s, e := f.sock(h)
	if e != 0 {
		return e
	}
	s.state = SynSent
	s.localPort = 40000 + uint16(h)
	s.remotePort = addr.Port()
	s.iss = fakeISN
	s.sndNxt = s.iss + 1
	s.rto = time.Second
	f.sendSYN(s)
	f.armSYNTimer(s)
	return syscall.EINPROGRESS
}

// armSYNTimer retransmits the SYN with exponential backoff (RFC 6298
// section 5.5) and gives up after synRetries.
func (f *fakeTarget) armSYNTimer(s *fakeSock) {
	s.timer = f.cfg.Clock.AfterFunc(s.rto, func() {
		if s.state != SynSent {
			return
		}
		if s.retries == f.synRetries {
			s.state, s.soErr = Closed, syscall.ETIMEDOUT
			return
		}
		s.retries++
		s.rto *= 2
		f.sendSYN(s)
		f.armSYNTimer(s)
	})
}

func (f *fakeTarget) Read(h int, buf []byte) (int, syscall.Errno) {
	s, e := f.sock(h)
	if e != 0 {
		return -1, e
	}
	if s.received == 0 {
		if s.peerClosed {
			return 0, 0
		}
		return -1, syscall.EAGAIN
	}
	n := min(len(buf), s.received)
	s.received -= n
	return n, 0
}

func (f *fakeTarget) Write(h int, data []byte) (int, syscall.Errno) {
	s, e := f.sock(h)
	if e != 0 {
		return -1, e
	}
	if s.state != Established && s.state != CloseWait {
		return -1, syscall.ENOTCONN
	}
	f.send(s, FlagPSH|FlagACK, s.sndNxt, s.rcvNxt, len(data), nil)
	s.sndNxt += uint32(len(data))
	return len(data), 0
}

func (f *fakeTarget) Shutdown(h int, how ShutdownHow) syscall.Errno { return syscall.EOPNOTSUPP }

func (f *fakeTarget) Close(h int) syscall.Errno {
	s, e := f.sock(h)
	if e != 0 {
		return e
	}
	s.hasHandle = false
	switch s.state {
	case Established:
		s.state = FinWait1
	case CloseWait:
		s.state = LastAck
	default:
		s.state = Closed
		return 0
	}
	f.send(s, FlagFIN|FlagACK, s.sndNxt, s.rcvNxt, 0, nil)
	s.sndNxt++
	return 0
}

func (f *fakeTarget) GetSockOpt(h int, opt SockOpt) (int, syscall.Errno) {
	s, e := f.sock(h)
	if e != 0 {
		return 0, e
	}
	switch opt {
	case SoRcvBuf:
		return f.profile.ReceiveBuffer, 0
	case SoError:
		v := s.soErr
		s.soErr = 0
		return int(v), 0
	}
	return 0, syscall.ENOPROTOOPT
}

func (f *fakeTarget) SetSockOpt(h int, opt SockOpt, value int) syscall.Errno {
	if _, e := f.sock(h); e != 0 {
		return e
	}
	if opt == SoReuseAddr {
		return 0
	}
	return syscall.ENOPROTOOPT
}

func (f *fakeTarget) Poll(h int) PollEvents {
	s, e := f.sock(h)
	if e != 0 {
		return PollEvents{Error: true}
	}
	// A connection that has ended is shut both ways.
	ended := s.state == Closed && s.sndNxt != 0
	return PollEvents{
		Readable:   s.received > 0 || len(s.acceptQ) > 0 || ended,
		Writable:   s.state == Established || ended,
		Error:      s.soErr != 0,
		ReadHangUp: ended,
		HangUp:     ended,
	}
}

func (f *fakeTarget) Info(h int) TCPInfo {
	s := f.socks[h]
	// The fake negotiates options only on its active opens.
	on := s.state == Established && s.iss == fakeISN && s.listener == 0
	return TCPInfo{State: s.state, Timestamps: on, WindowScale: on, SACK: on}
}

func (f *fakeTarget) Connections() []TCPState {
	var states []TCPState
	for _, s := range f.socks {
		states = append(states, s.state)
	}
	return states
}

// Inject processes one segment synchronously.
func (f *fakeTarget) Inject(pkt []byte) error {
	ip, err := parseIPv4(pkt)
	if err != nil {
		return err
	}
	if ip.protocol() != protoTCP {
		return nil
	}
	seg, err := parseTCP(ip.payload())
	if err != nil {
		return err
	}
	var conn, listener *fakeSock
	for _, s := range f.socks {
		switch {
		case s.state == Listen && s.localPort == seg.dstPort():
			listener = s
		case s.state != Closed && s.state != Listen && s.localPort == seg.dstPort() && s.remotePort == seg.srcPort():
			conn = s
		}
	}
	fl := seg.flags()
	switch {
	case conn != nil:
		f.segmentArrives(conn, seg)
	case listener != nil && fl&FlagSYN != 0 && fl&FlagACK == 0:
		f.next++
		c := &fakeSock{state: SynReceived, localPort: seg.dstPort(), remotePort: seg.srcPort(), iss: fakeISN}
		c.sndNxt, c.rcvNxt = c.iss+1, seg.seq()+1
		for h, s := range f.socks {
			if s == listener {
				c.listener = h
			}
		}
		f.socks[f.next] = c
		f.send(c, FlagSYN|FlagACK, c.iss, c.rcvNxt, 0, []byte{2, 4, 0x05, 0xb4, 4, 2, 0, 0})
	case fl&FlagRST == 0:
		// RFC 9293 section 3.10.7.1: a segment for no connection draws
		// a reset.
		tmp := &fakeSock{localPort: seg.dstPort(), remotePort: seg.srcPort()}
		if fl&FlagACK != 0 {
			f.send(tmp, FlagRST, seg.ack(), 0, 0, nil)
		} else {
			n := uint32(seg.payloadLen())
			if fl&FlagSYN != 0 {
				n++
			}
			if fl&FlagFIN != 0 {
				n++
			}
			f.send(tmp, FlagRST|FlagACK, 0, seg.seq()+n, 0, nil)
		}
	}
	return nil
}

func (f *fakeTarget) segmentArrives(s *fakeSock, seg tcpView) {
	fl := seg.flags()
	switch s.state {
	case SynSent:
		if fl&FlagACK == 0 || seg.ack() != s.iss+1 {
			return
		}
		if fl&FlagRST != 0 {
			s.state, s.soErr = Closed, syscall.ECONNREFUSED
			return
		}
		if fl&FlagSYN == 0 {
			return
		}
		// The SYN-ACK must echo our timestamp: this is what proves the
		// runner translated the script's ecr onto our clock.
		if at := findTimestamp(seg.options()); at >= 0 {
			if binary.BigEndian.Uint32(seg.options()[at+4:]) != s.tsSent {
				return
			}
		}
		s.timer.Stop()
		s.state = Established
		s.rcvNxt = seg.seq() + 1
		f.send(s, FlagACK, s.sndNxt, s.rcvNxt, 0, nil)
	case SynReceived:
		if fl&FlagACK != 0 && seg.ack() == s.iss+1 {
			s.state = Established
			l := f.socks[s.listener]
			for h, c := range f.socks {
				if c == s {
					l.acceptQ = append(l.acceptQ, h)
				}
			}
		}
	default:
		if fl&FlagRST != 0 {
			s.state, s.soErr = Closed, syscall.ECONNRESET
			return
		}
		if fl&FlagACK != 0 && s.state == LastAck && seg.ack() == s.sndNxt {
			s.state = Closed
			return
		}
		if fl&FlagACK != 0 && s.state == FinWait1 && seg.ack() == s.sndNxt {
			s.state = FinWait2
		}
		n := seg.payloadLen()
		if n > 0 || fl&FlagFIN != 0 {
			s.received += n
			s.rcvNxt += uint32(n)
			if fl&FlagFIN != 0 {
				s.rcvNxt++
				s.peerClosed = true
				switch s.state {
				case Established:
					s.state = CloseWait
				case FinWait2:
					s.state = TimeWait
				}
			}
			f.send(s, FlagACK, s.sndNxt, s.rcvNxt, 0, nil)
		}
	}
}
