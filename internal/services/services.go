// Package services runs the network services of tundra's benchmark contract
// (DESIGN.md) on a stack: TCP discard (port 9, RFC 863), echo (7, RFC 862)
// and chargen (19, RFC 864), HTTP on 80 and HTTPS on 443 with the contract
// handler, and any services other packages add with Register (UDP echo).
// Each connection is served the ordinary Go way, a goroutine and io.Copy,
// so that a benchmark measures the stack, not the application.
package services

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	nethttp "net/http"
	"net/netip"
	"sync"

	"github.com/tundra-net/tundra/http"
	"github.com/tundra-net/tundra/stack"
	"github.com/tundra-net/tundra/tls"
)

// Config chooses what to serve.
type Config struct {
	// TLS configures HTTPS on 443; nil means a new self-signed CA and a
	// server certificate for the stack's addresses (see Running.CA).
	TLS *tls.Config
	// NoHTTP, NoHTTPS turn those services off.
	NoHTTP, NoHTTPS bool
	// Logger receives errors; nil means slog.Default().
	Logger *slog.Logger
}

// Running is the set of started services.
type Running struct {
	// CA signed the HTTPS certificate when Config.TLS was nil, so clients
	// can trust it (write it out with CA.WriteFiles).
	CA *tls.CA

	mu        sync.Mutex
	listeners []io.Closer
	servers   []*http.Server
	wg        sync.WaitGroup
	log       *slog.Logger
}

// extra are the services other packages add, started by Start after the
// built-in ones.
var extra []func(st *stack.Stack, r *Running) error

// Register adds a service that Start also starts. f must register what it
// opens with Running.Track so that Stop closes it.
func Register(f func(st *stack.Stack, r *Running) error) { extra = append(extra, f) }

// Start opens every service on st.
func Start(st *stack.Stack, cfg Config) (*Running, error) {
	r := &Running{log: cfg.Logger}
	if r.log == nil {
		r.log = slog.Default()
	}
	tcpServices := []struct {
		port  uint16
		serve func(net.Conn)
	}{
		{9, discard},
		{7, echo},
		{19, chargen},
	}
	for _, s := range tcpServices {
		l, err := st.ListenTCP(netip.AddrPortFrom(netip.IPv4Unspecified(), s.port), stack.DefaultListenBacklog)
		if err != nil {
			r.Stop()
			return nil, fmt.Errorf("services: port %d: %w", s.port, err)
		}
		r.Track(l)
		r.Go(func() { acceptLoop(l, s.serve) })
	}
	if !cfg.NoHTTP {
		if err := r.serveHTTP(st, 80, nil); err != nil {
			r.Stop()
			return nil, err
		}
	}
	if !cfg.NoHTTPS {
		tcfg := cfg.TLS
		if tcfg == nil {
			ca, err := tls.NewCA("tundra demo CA")
			if err != nil {
				r.Stop()
				return nil, err
			}
			names := []string{"localhost"}
			for _, a := range st.Addresses() {
				names = append(names, a.String())
			}
			issued, err := ca.IssueServer(names...)
			if err != nil {
				r.Stop()
				return nil, err
			}
			r.CA = ca
			tcfg = &tls.Config{Certificates: []tls.Certificate{issued.TLSCertificate()}}
		}
		if err := r.serveHTTP(st, 443, tcfg); err != nil {
			r.Stop()
			return nil, err
		}
	}
	for _, f := range extra {
		if err := f(st, r); err != nil {
			r.Stop()
			return nil, err
		}
	}
	return r, nil
}

// serveHTTP serves the contract handler on port, over TLS if tcfg is set.
func (r *Running) serveHTTP(st *stack.Stack, port uint16, tcfg *tls.Config) error {
	var l net.Listener
	l, err := st.ListenTCP(netip.AddrPortFrom(netip.IPv4Unspecified(), port), stack.DefaultListenBacklog)
	if err != nil {
		return fmt.Errorf("services: port %d: %w", port, err)
	}
	if tcfg != nil {
		tl, err := tls.NewListener(l, tcfg)
		if err != nil {
			l.Close()
			return fmt.Errorf("services: TLS on %d: %w", port, err)
		}
		l = tl
	}
	srv := &http.Server{Handler: http.ContractHandler(), Logger: r.log}
	r.mu.Lock()
	r.servers = append(r.servers, srv)
	r.mu.Unlock()
	r.Go(func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, nethttp.ErrServerClosed) {
			r.log.Error("http serve", "port", port, "err", err)
		}
	})
	return nil
}

// Track makes Stop close c.
func (r *Running) Track(c io.Closer) {
	r.mu.Lock()
	r.listeners = append(r.listeners, c)
	r.mu.Unlock()
}

// Go runs f on a goroutine that Stop waits for.
func (r *Running) Go(f func()) {
	r.wg.Add(1)
	go func() { defer r.wg.Done(); f() }()
}

// Stop closes every service and waits for their accept loops to end.
// Connections already accepted end when the stack closes them.
func (r *Running) Stop() {
	r.mu.Lock()
	ls, srvs := r.listeners, r.servers
	r.listeners, r.servers = nil, nil
	r.mu.Unlock()
	for _, s := range srvs {
		s.Close()
	}
	for _, l := range ls {
		l.Close()
	}
	r.wg.Wait()
}

// acceptLoop serves each accepted connection on its own goroutine.
func acceptLoop(l net.Listener, serve func(net.Conn)) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			serve(c)
		}()
	}
}

// discard reads and drops everything (RFC 863).
func discard(c net.Conn) { io.Copy(io.Discard, c) }

// echo sends back everything it reads (RFC 862), then closes its side when
// the peer does.
func echo(c net.Conn) {
	io.Copy(c, c)
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
}

// chargenPattern is RFC 864's stream: lines of 72 printable characters,
// each line starting one character further along the 95 printable ASCII
// characters, so the whole pattern repeats after 95 lines.
var chargenPattern = func() []byte {
	var b []byte
	for line := range 95 {
		for i := range 72 {
			b = append(b, byte(' '+(line+i)%95))
		}
		b = append(b, '\r', '\n')
	}
	return b
}()

// chargen sends the RFC 864 pattern until the peer goes away.
func chargen(c net.Conn) {
	go io.Copy(io.Discard, c) // whatever the peer sends is thrown away
	buf := make([]byte, 0, 64<<10)
	for len(buf)+len(chargenPattern) <= cap(buf) {
		buf = append(buf, chargenPattern...)
	}
	for {
		if _, err := c.Write(buf); err != nil {
			return
		}
	}
}
