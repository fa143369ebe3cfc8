package packetdrill

import (
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// attemptFunc performs a call once. blocked reports that a blocking socket
// would wait here; the runner then retries it after every step.
type attemptFunc func() (ret int64, errno syscall.Errno, blocked bool)

// syscall runs a socket call event.
func (r *runner) syscall(ev *Event, sc *Syscall) error {
	if err := r.configure(); err != nil {
		return err
	}
	attempt, err := r.prepare(sc)
	if err != nil {
		return err
	}
	start := r.now()
	due := start
	if sc.Blocking {
		due = sc.End
		if ev.Time.Kind == RelativeTime {
			// "+0.1...0.3": the end time shares the start's base.
			due = r.lastTime - ev.Time.Start + sc.End
		}
	}
	ret, errno, blocked := attempt()
	if !blocked {
		r.traceReturn(start, sc, ret, errno)
		if err := r.checkReturn(sc, ret, errno); err != nil {
			return err
		}
		if sc.Blocking && absDuration(due-start) > r.tolerance {
			return r.failf("returned at once at %v, script expects it to block until %v", start, due)
		}
		return r.settle()
	}
	if !sc.Blocking {
		return r.failf("call blocked; the script expects it to return at once (write ...END before the call if it should block)")
	}
	r.tracef(start, "%s(...) blocks", sc.Name)
	r.pending = append(r.pending, &pendingCall{ev: ev, sc: sc, started: start, due: due, attempt: attempt})
	return r.settle()
}

// traceReturn traces a call's actual result.
func (r *runner) traceReturn(at time.Duration, sc *Syscall, ret int64, errno syscall.Errno) {
	args := make([]string, len(sc.Args))
	for i, a := range sc.Args {
		args[i] = a.String()
	}
	res := fmt.Sprint(ret)
	if errno != 0 {
		res += " " + errnoName(errno)
	}
	r.tracef(at, "%s(%s) = %s", sc.Name, strings.Join(args, ", "), res)
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// pollPending retries every blocked call once. It reports whether any
// completed.
func (r *runner) pollPending() (bool, error) {
	progressed := false
	for i := 0; i < len(r.pending); {
		p := r.pending[i]
		ret, errno, blocked := p.attempt()
		if blocked {
			i++
			continue
		}
		progressed = true
		r.pending = append(r.pending[:i], r.pending[i+1:]...)
		saved := r.ev
		r.ev = p.ev
		r.traceReturn(r.now(), p.sc, ret, errno)
		err := r.checkReturn(p.sc, ret, errno)
		if err == nil && absDuration(r.now()-p.due) > r.tolerance {
			err = r.failf("returned at %v, script expects %v (tolerance %v)", r.now(), p.due, r.tolerance)
		}
		r.ev = saved
		if err != nil {
			return progressed, err
		}
	}
	return progressed, nil
}

// checkReturn compares a call's result with the script's "= value ERRNO".
func (r *runner) checkReturn(sc *Syscall, ret int64, errno syscall.Errno) error {
	mismatch := r.valueMismatch
	r.valueMismatch = ""
	if _, any := sc.Result.(Ellipsis); !any {
		want, err := r.value(sc.Result)
		if err != nil {
			return err
		}
		if ret != want {
			if errno != 0 {
				return r.failf("returned %d %s, script expects %s", ret, errnoName(errno), sc.Result)
			}
			return r.failf("returned %d, script expects %s", ret, sc.Result)
		}
	}
	if ret != -1 {
		if mismatch != "" {
			return r.failf("%s", mismatch)
		}
		return nil
	}
	if sc.Errno == "" {
		return r.failf("returned -1 %s, script gives no errno", errnoName(errno))
	}
	want, ok := errnos[sc.Errno]
	if !ok {
		return r.failf("unknown errno %s", sc.Errno)
	}
	if errno != want {
		return r.failf("errno %s, script expects %s", errnoName(errno), sc.Errno)
	}
	return nil
}

// symbols are the constants scripts use in call arguments.
func (r *runner) symbol(name string) (int64, bool) {
	switch name {
	case "O_RDWR":
		return int64(r.profile.FlagRDWR), true
	case "O_NONBLOCK":
		return int64(r.profile.FlagNonblock), true
	case "SHUT_RD":
		return int64(ShutRD), true
	case "SHUT_WR":
		return int64(ShutWR), true
	case "SHUT_RDWR":
		return int64(ShutRDWR), true
	}
	// RFC 2474 class selector codepoints, as IP_TOS values.
	if len(name) == len("IPTOS_DSCP_CS0") && name[:len("IPTOS_DSCP_CS")] == "IPTOS_DSCP_CS" {
		if d := name[len(name)-1]; d >= '0' && d <= '7' {
			return int64(d-'0') << 5, true
		}
	}
	if e, ok := errnos[name]; ok {
		return int64(e), true
	}
	return pollSymbol(r.profile.PollKernel, name)
}

// value evaluates an integer expression: a number, a symbol, "a | b", or
// a one-element list "[a]" (a pointer to an int in C).
func (r *runner) value(e Expr) (int64, error) {
	switch v := e.(type) {
	case Int:
		return v.Value, nil
	case Word:
		if n, ok := r.symbol(v.Name); ok {
			return n, nil
		}
		return 0, r.unsupportedf("symbol %s", v.Name)
	case Binary:
		if v.Op == "|" {
			a, err := r.value(v.L)
			if err != nil {
				return 0, err
			}
			b, err := r.value(v.R)
			return a | b, err
		}
	case List:
		if len(v.Elems) == 1 {
			return r.value(v.Elems[0])
		}
	}
	return 0, r.failf("expected an integer, found %s", e)
}

func (r *runner) wantArgs(sc *Syscall, n int) error {
	if len(sc.Args) != n {
		return r.failf("%s takes %d arguments, script gives %d", sc.Name, n, len(sc.Args))
	}
	return nil
}

// fd resolves a descriptor argument.
func (r *runner) fd(e Expr) (int, *fdEntry, error) {
	n, err := r.value(e)
	if err != nil {
		return 0, nil, err
	}
	ent, ok := r.fds[int(n)]
	if !ok {
		return int(n), nil, nil
	}
	r.lastFD = int(n)
	return int(n), ent, nil
}

// newFD gives a new handle the lowest free descriptor from 3 up, as a
// fresh process would (0-2 are stdin, stdout, stderr).
func (r *runner) newFD(handle int) int {
	fd := 3
	for r.fds[fd] != nil {
		fd++
	}
	r.fds[fd] = &fdEntry{handle: handle}
	r.lastFD = fd
	return fd
}

// done wraps a result that never blocks.
func done(ret int64, errno syscall.Errno) attemptFunc {
	return func() (int64, syscall.Errno, bool) { return ret, errno, false }
}

func result(errno syscall.Errno) (int64, syscall.Errno) {
	if errno != 0 {
		return -1, errno
	}
	return 0, 0
}

// prepare checks a call's arguments and returns the attempt that performs
// it. Calls on a descriptor the script never opened fail with EBADF, as
// the kernel's would.
func (r *runner) prepare(sc *Syscall) (attemptFunc, error) {
	t := r.target
	switch sc.Name {
	case "socket":
		if err := r.wantArgs(sc, 3); err != nil {
			return nil, err
		}
		for i, want := range []string{"AF_INET", "SOCK_STREAM", "IPPROTO_TCP"} {
			if _, ok := sc.Args[i].(Ellipsis); ok {
				continue
			}
			if w, ok := sc.Args[i].(Word); !ok || w.Name != want && !(i == 2 && w.Name == "0") {
				return nil, r.unsupportedf("socket(%s): only TCP over IPv4", sc.Args[i])
			}
		}
		return func() (int64, syscall.Errno, bool) {
			h, errno := t.Socket()
			if errno != 0 {
				return -1, errno, false
			}
			return int64(r.newFD(h)), 0, false
		}, nil

	case "bind", "connect":
		if err := r.wantArgs(sc, 3); err != nil {
			return nil, err
		}
		_, ent, err := r.fd(sc.Args[0])
		if err != nil {
			return nil, err
		}
		port, err := r.sockaddrPort(sc.Args[1])
		if err != nil {
			return nil, err
		}
		if ent == nil {
			return done(-1, syscall.EBADF), nil
		}
		if sc.Name == "bind" {
			r.flow.localPort = port
			return done(result(t.Bind(ent.handle, netip.AddrPortFrom(r.local, port)))), nil
		}
		r.flow.remotePort = port
		waiting := false
		return func() (int64, syscall.Errno, bool) {
			if !waiting {
				errno := t.Connect(ent.handle, netip.AddrPortFrom(r.remote, port))
				if errno == syscall.EINPROGRESS && !ent.nonblock {
					waiting = true
					return 0, 0, true
				}
				ret, e := result(errno)
				return ret, e, false
			}
			// A blocking connect returns when the handshake has ended, one
			// way or the other (POSIX connect(), as poll + SO_ERROR).
			ev := t.Poll(ent.handle)
			if !ev.Writable && !ev.Error && !ev.HangUp {
				return 0, 0, true
			}
			soErr, errno := t.GetSockOpt(ent.handle, SoError)
			if errno != 0 {
				return -1, errno, false
			}
			ret, e := result(syscall.Errno(soErr))
			return ret, e, false
		}, nil

	case "listen":
		if err := r.wantArgs(sc, 2); err != nil {
			return nil, err
		}
		_, ent, err := r.fd(sc.Args[0])
		if err != nil {
			return nil, err
		}
		backlog, err := r.value(sc.Args[1])
		if err != nil {
			return nil, err
		}
		if ent == nil {
			return done(-1, syscall.EBADF), nil
		}
		return done(result(t.Listen(ent.handle, int(backlog)))), nil

	case "accept":
		if err := r.wantArgs(sc, 3); err != nil {
			return nil, err
		}
		_, ent, err := r.fd(sc.Args[0])
		if err != nil {
			return nil, err
		}
		if ent == nil {
			return done(-1, syscall.EBADF), nil
		}
		return func() (int64, syscall.Errno, bool) {
			h, errno := t.Accept(ent.handle)
			if errno == syscall.EAGAIN && !ent.nonblock {
				return 0, 0, true
			}
			if errno != 0 {
				return -1, errno, false
			}
			return int64(r.newFD(h)), 0, false
		}, nil

	case "read", "recv", "write", "send":
		n := 3
		if sc.Name == "recv" || sc.Name == "send" {
			n = 4
		}
		if err := r.wantArgs(sc, n); err != nil {
			return nil, err
		}
		_, ent, err := r.fd(sc.Args[0])
		if err != nil {
			return nil, err
		}
		size, err := r.value(sc.Args[2])
		if err != nil {
			return nil, err
		}
		if n == 4 {
			if flags, err := r.value(sc.Args[3]); err != nil || flags != 0 {
				return nil, r.unsupportedf("%s flags %s", sc.Name, sc.Args[3])
			}
		}
		if size < 0 || size > 1<<24 {
			return nil, r.failf("length %d out of range", size)
		}
		if ent == nil {
			return done(-1, syscall.EBADF), nil
		}
		buf := make([]byte, size)
		write := sc.Name == "write" || sc.Name == "send"
		return func() (int64, syscall.Errno, bool) {
			var got int
			var errno syscall.Errno
			if write {
				got, errno = t.Write(ent.handle, buf)
			} else {
				got, errno = t.Read(ent.handle, buf)
			}
			if errno == syscall.EAGAIN && !ent.nonblock {
				return 0, 0, true
			}
			if errno != 0 {
				return -1, errno, false
			}
			return int64(got), 0, false
		}, nil

	case "shutdown":
		if err := r.wantArgs(sc, 2); err != nil {
			return nil, err
		}
		_, ent, err := r.fd(sc.Args[0])
		if err != nil {
			return nil, err
		}
		how, err := r.value(sc.Args[1])
		if err != nil {
			return nil, err
		}
		if how < int64(ShutRD) || how > int64(ShutRDWR) {
			return done(-1, syscall.EINVAL), nil
		}
		if ent == nil {
			return done(-1, syscall.EBADF), nil
		}
		return done(result(t.Shutdown(ent.handle, ShutdownHow(how)))), nil

	case "close":
		if err := r.wantArgs(sc, 1); err != nil {
			return nil, err
		}
		fd, ent, err := r.fd(sc.Args[0])
		if err != nil {
			return nil, err
		}
		if ent == nil {
			return done(-1, syscall.EBADF), nil
		}
		return func() (int64, syscall.Errno, bool) {
			delete(r.fds, fd)
			ret, e := result(t.Close(ent.handle))
			return ret, e, false
		}, nil

	case "getsockopt", "setsockopt":
		return r.prepareSockopt(sc)

	case "fcntl":
		return r.prepareFcntl(sc)

	case "poll":
		return r.preparePoll(sc)
	}
	return nil, r.unsupportedf("system call %s", sc.Name)
}

// sockaddrPort reads the address argument of bind or connect. "..." is
// packetdrill's default: the local address for bind, the remote for
// connect, port 8080 for both.
func (r *runner) sockaddrPort(e Expr) (uint16, error) {
	if _, ok := e.(Ellipsis); ok {
		return scriptPort, nil
	}
	return 0, r.unsupportedf("explicit socket address %s", e)
}

// prepareSockopt handles getsockopt(fd, level, name, [value], [len]) and
// setsockopt(fd, level, name, [value], len).
func (r *runner) prepareSockopt(sc *Syscall) (attemptFunc, error) {
	if err := r.wantArgs(sc, 5); err != nil {
		return nil, err
	}
	_, ent, err := r.fd(sc.Args[0])
	if err != nil {
		return nil, err
	}
	level, lok := sc.Args[1].(Word)
	name, nok := sc.Args[2].(Word)
	if !lok || !nok {
		return nil, r.failf("socket option level and name must be symbols")
	}
	opt, ok := sockOpts[[2]string{level.Name, name.Name}]
	if !ok {
		return nil, r.unsupportedf("socket option %s/%s", level.Name, name.Name)
	}
	if ent == nil {
		return done(-1, syscall.EBADF), nil
	}
	t := r.target
	if sc.Name == "setsockopt" {
		v, err := r.value(sc.Args[3])
		if err != nil {
			return nil, err
		}
		switch opt {
		case TCPMD5Sig:
			return nil, r.unsupportedf("TCP MD5 signatures (RFC 2385)")
		}
		return done(result(t.SetSockOpt(ent.handle, opt, int(v)))), nil
	}
	// getsockopt: the fourth argument is the expected value, checked here
	// once the call returns 0.
	var want int64
	wantAny := false
	switch l := sc.Args[3].(type) {
	case Ellipsis:
		wantAny = true
	case List:
		if len(l.Elems) != 1 {
			return nil, r.failf("getsockopt value must be [v]")
		}
		if _, ok := l.Elems[0].(Ellipsis); ok {
			wantAny = true
		} else if want, err = r.value(l.Elems[0]); err != nil {
			return nil, err
		}
	default:
		return nil, r.failf("getsockopt value must be [v] or ...")
	}
	return func() (int64, syscall.Errno, bool) {
		got, errno := t.GetSockOpt(ent.handle, opt)
		if errno != 0 {
			return -1, errno, false
		}
		if !wantAny && int64(got) != want {
			// Report through the return value check: a different value
			// is a failed expectation of this call.
			r.valueMismatch = fmt.Sprintf("%s is %s, script expects %s", opt, optValueString(opt, got), sc.Args[3])
		}
		return 0, 0, false
	}, nil
}

// optValueString shows SO_ERROR values by errno name.
func optValueString(opt SockOpt, v int) string {
	if opt == SoError {
		return errnoName(syscall.Errno(v))
	}
	return fmt.Sprint(v)
}

// prepareFcntl handles F_GETFL and F_SETFL; the runner keeps O_NONBLOCK
// itself, since it is what turns EAGAIN into a blocked call.
func (r *runner) prepareFcntl(sc *Syscall) (attemptFunc, error) {
	if len(sc.Args) < 2 {
		return nil, r.failf("fcntl needs a descriptor and a command")
	}
	_, ent, err := r.fd(sc.Args[0])
	if err != nil {
		return nil, err
	}
	cmd, ok := sc.Args[1].(Word)
	if !ok {
		return nil, r.failf("fcntl command must be a symbol")
	}
	switch cmd.Name {
	case "F_GETFL":
		if err := r.wantArgs(sc, 2); err != nil {
			return nil, err
		}
		if ent == nil {
			return done(-1, syscall.EBADF), nil
		}
		return func() (int64, syscall.Errno, bool) {
			flags := int64(r.profile.FlagRDWR)
			if ent.nonblock {
				flags |= int64(r.profile.FlagNonblock)
			}
			return flags, 0, false
		}, nil
	case "F_SETFL":
		if err := r.wantArgs(sc, 3); err != nil {
			return nil, err
		}
		flags, err := r.value(sc.Args[2])
		if err != nil {
			return nil, err
		}
		if ent == nil {
			return done(-1, syscall.EBADF), nil
		}
		return func() (int64, syscall.Errno, bool) {
			ent.nonblock = flags&int64(r.profile.FlagNonblock) != 0
			return 0, 0, false
		}, nil
	}
	return nil, r.unsupportedf("fcntl %s", cmd.Name)
}
