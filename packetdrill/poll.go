package packetdrill

import (
	"fmt"
	"strings"
	"syscall"
	"time"
)

// PollKernel says whose poll(2) a profile follows: which revents bits a
// socket's readiness (PollEvents) turns into, and the values of the POLL*
// symbols. Readiness after a FIN or a RST is the same on both kernels
// (POLLIN and POLLOUT once the direction is shut, POLLHUP once both are);
// they differ on a pending error (POSIX leaves poll's report of it to the
// system, and RFC 9293 section 3.9.1 leaves the user interface to the
// implementation).
type PollKernel int

const (
	// PollLinux is Linux's tcp_poll (net/ipv4/tcp.c): POLLERR while an
	// error is pending (sk_err, which getsockopt(SO_ERROR) reads and
	// clears); POLLHUP when both directions are shut; POLLIN, POLLRDNORM
	// and POLLRDHUP once receiving is shut; POLLOUT and POLLWRNORM while
	// the send buffer has room on a connected socket or once sending is
	// shut; POLLOUT and POLLHUP on a socket that never connected (its
	// state is CLOSE). fs/select.c then keeps the bits asked for, and
	// always POLLERR and POLLHUP.
	PollLinux PollKernel = iota
	// PollFreeBSD is FreeBSD's sopoll_generic (kern/uipc_socket.c): a
	// pending so_error makes the socket readable and writable
	// (soreadabledata, sowriteable) and sets no POLLERR; POLLHUP when
	// both directions are shut; POLLRDHUP once receiving is shut; nothing
	// on a socket that never connected. Only POLLHUP is reported unasked.
	PollFreeBSD
)

// pollFlags are one kernel's values of the poll(2) bits.
type pollFlags struct {
	in, pri, out, err, hup, nval, rdNorm, rdBand, wrNorm, wrBand, rdHup int
}

var (
	// linuxPollFlags are <asm-generic/poll.h>'s.
	linuxPollFlags = pollFlags{in: 0x1, pri: 0x2, out: 0x4, err: 0x8, hup: 0x10, nval: 0x20,
		rdNorm: 0x40, rdBand: 0x80, wrNorm: 0x100, wrBand: 0x200, rdHup: 0x2000}
	// freeBSDPollFlags are <sys/poll.h>'s: POLLWRNORM is POLLOUT.
	freeBSDPollFlags = pollFlags{in: 0x1, pri: 0x2, out: 0x4, err: 0x8, hup: 0x10, nval: 0x20,
		rdNorm: 0x40, rdBand: 0x80, wrNorm: 0x4, wrBand: 0x100, rdHup: 0x4000}
)

// flags returns the kernel's bit values.
func (k PollKernel) flags() pollFlags {
	if k == PollFreeBSD {
		return freeBSDPollFlags
	}
	return linuxPollFlags
}

// pollBit is one named poll(2) bit.
type pollBit struct {
	name string
	bit  int
}

// bits lists the kernel's POLL* symbols in <poll.h> order. On FreeBSD
// POLLWRNORM is POLLOUT's bit, which is named POLLOUT.
func (f pollFlags) bits() []pollBit {
	return []pollBit{
		{"POLLIN", f.in}, {"POLLPRI", f.pri}, {"POLLOUT", f.out}, {"POLLERR", f.err},
		{"POLLHUP", f.hup}, {"POLLNVAL", f.nval}, {"POLLRDNORM", f.rdNorm},
		{"POLLRDBAND", f.rdBand}, {"POLLWRNORM", f.wrNorm}, {"POLLWRBAND", f.wrBand},
		{"POLLRDHUP", f.rdHup},
	}
}

// pollSymbol returns the value of a POLL* symbol for the profile's kernel.
func pollSymbol(k PollKernel, name string) (int64, bool) {
	for _, b := range k.flags().bits() {
		if b.name == name {
			return int64(b.bit), true
		}
	}
	return 0, false
}

// Revents returns what poll(2) on kernel k reports in revents for a
// socket with readiness ev, asked for events.
func (k PollKernel) Revents(ev PollEvents, events int) int {
	f := k.flags()
	if k == PollFreeBSD {
		// sopoll_generic, bit by bit.
		revents := 0
		if ev.Readable || ev.Error || ev.ReadHangUp {
			revents |= events & (f.in | f.rdNorm)
		}
		if ev.Writable || ev.Error {
			revents |= events & (f.out | f.wrNorm)
		}
		if ev.HangUp {
			revents |= f.hup
		}
		if ev.ReadHangUp {
			revents |= events & f.rdHup
		}
		return revents
	}
	// tcp_poll builds the whole mask; do_pollfd keeps what was asked for
	// and the two bits that cannot be masked.
	mask := 0
	if ev.HangUp {
		mask |= f.hup
	}
	if ev.Unconnected {
		mask |= f.hup | f.out | f.wrNorm
	}
	if ev.ReadHangUp {
		mask |= f.in | f.rdNorm | f.rdHup
	}
	if ev.Readable {
		mask |= f.in | f.rdNorm
	}
	if ev.Writable {
		mask |= f.out | f.wrNorm
	}
	if ev.Error {
		mask |= f.err
	}
	return mask & (events | f.err | f.hup)
}

// String names the kernel.
func (k PollKernel) String() string {
	if k == PollFreeBSD {
		return "FreeBSD"
	}
	return "Linux"
}

// pollString names the set bits of v ("POLLIN|POLLOUT", "0").
func pollString(k PollKernel, v int) string {
	var names []string
	for _, b := range k.flags().bits() {
		if v&b.bit != 0 {
			names = append(names, b.name)
			v &^= b.bit
		}
	}
	if v != 0 {
		names = append(names, fmt.Sprintf("%#x", v))
	}
	if len(names) == 0 {
		return "0"
	}
	return strings.Join(names, "|")
}

// pollEntry is one {fd=..., events=..., revents=...} of a poll call.
type pollEntry struct {
	fd              int
	ent             *fdEntry // nil: not open
	events, revents int      // revents: what the script expects
}

// preparePoll handles poll([{fd=F, events=E, revents=R}, ...], nfds,
// timeout): the call returns how many entries have revents set, and each
// entry's revents must be exactly the script's, as packetdrill checks
// them. A timeout other than 0 makes it a blocking call that returns when
// some entry is ready, or with 0 once timeout milliseconds have passed
// (never, for a negative timeout).
func (r *runner) preparePoll(sc *Syscall) (attemptFunc, error) {
	if err := r.wantArgs(sc, 3); err != nil {
		return nil, err
	}
	list, ok := sc.Args[0].(List)
	if !ok {
		return nil, r.failf("poll's first argument must be a list of {fd=..., events=..., revents=...}")
	}
	var entries []pollEntry
	for _, e := range list.Elems {
		pe, err := r.pollEntry(e)
		if err != nil {
			return nil, err
		}
		entries = append(entries, pe)
	}
	nfds, err := r.value(sc.Args[1])
	if err != nil {
		return nil, err
	}
	if int(nfds) != len(entries) {
		return nil, r.failf("nfds %d does not match the %d-element pollfd list", nfds, len(entries))
	}
	timeout, err := r.value(sc.Args[2])
	if err != nil {
		return nil, err
	}
	kernel := r.profile.PollKernel
	nval := kernel.flags().nval
	started := r.now()
	return func() (int64, syscall.Errno, bool) {
		got := make([]int, len(entries))
		ready := 0
		for i, pe := range entries {
			switch {
			case pe.fd < 0:
				// poll(2) ignores negative descriptors.
			case pe.ent == nil:
				got[i] = nval
			default:
				got[i] = kernel.Revents(r.target.Poll(pe.ent.handle), pe.events)
			}
			if got[i] != 0 {
				ready++
			}
		}
		if ready == 0 && timeout != 0 && (timeout < 0 || r.now()-started < time.Duration(timeout)*time.Millisecond) {
			return 0, 0, true
		}
		for i, pe := range entries {
			if got[i] != pe.revents {
				r.valueMismatch = fmt.Sprintf("fd %d: revents %s, script expects %s",
					pe.fd, pollString(kernel, got[i]), pollString(kernel, pe.revents))
				break
			}
		}
		return int64(ready), 0, false
	}, nil
}

// pollEntry reads one "{fd=F, events=E, revents=R}".
func (r *runner) pollEntry(e Expr) (pollEntry, error) {
	s, ok := e.(Struct)
	if !ok {
		return pollEntry{}, r.failf("poll entry %s is not {fd=..., events=..., revents=...}", e)
	}
	var pe pollEntry
	seen := map[string]bool{}
	for _, field := range s.Fields {
		b, ok := field.(Binary)
		name, isWord := b.L.(Word)
		if !ok || b.Op != "=" || !isWord {
			return pollEntry{}, r.failf("poll entry field %s is not name=value", field)
		}
		v, err := r.value(b.R)
		if err != nil {
			return pollEntry{}, err
		}
		switch name.Name {
		case "fd":
			pe.fd = int(v)
		case "events":
			pe.events = int(v)
		case "revents":
			pe.revents = int(v)
		default:
			return pollEntry{}, r.failf("poll entry has no field %s", name.Name)
		}
		seen[name.Name] = true
	}
	for _, f := range []string{"fd", "events", "revents"} {
		if !seen[f] {
			return pollEntry{}, r.failf("poll entry %s lacks %s", e, f)
		}
	}
	if pe.fd >= 0 {
		pe.ent = r.fds[pe.fd]
	}
	return pe, nil
}
