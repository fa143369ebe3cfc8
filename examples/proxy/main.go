// Command proxy is a forward HTTP proxy built on tundra's HTTP server and
// client.
//
//	go run ./examples/proxy -listen 127.0.0.1:3128
//	curl -x http://127.0.0.1:3128 http://example.test/
//
// A plain request arrives in absolute form ("GET http://host/path
// HTTP/1.1", RFC 9112 section 3.2.2) and is forwarded with tundra's Client.
// A CONNECT request (RFC 9110 section 9.3.6) opens a TCP tunnel, which is
// how HTTPS goes through a proxy: the proxy only copies bytes.
//
// Hop-by-hop header fields (RFC 9110 section 7.6.1) describe one connection
// and are removed in both directions, along with any field the Connection
// header names; a Via field (section 7.6.3) records the proxy.
//
// The proxy forwards to any host its dialer can reach, so it listens on
// loopback by default: do not expose it.
//
// With -tun it runs on tundra's own TCP/IP stack, attached to an existing
// TUN device (as root; see attachStack): it accepts clients and reaches
// origin servers through the stack, as host -addr on the TUN's subnet:
//
//	go run ./examples/proxy -tun tun0 -addr 198.18.0.2
//	curl -x http://198.18.0.2:3128 http://198.18.0.1:8080/
//
// The listen and dial variables are the two places where the modes differ.
package main

import (
	"context"
	"flag"
	"io"
	"log"
	"log/slog"
	"net"
	nethttp "net/http"
	"strings"
	"sync"
	"time"

	tundrahttp "github.com/tundra-net/tundra/http"
)

// listen opens the proxy's listener. TUNDRA STACK: with -tun, main replaces
// it with the stack's Listen, to accept clients over tundra's TCP.
var listen = func(network, addr string) (net.Listener, error) {
	return net.Listen(network, addr)
}

// dial opens connections to origin servers and tunnel targets. TUNDRA
// STACK: with -tun, main replaces it with the stack's DialContext.
var dial = (&net.Dialer{Timeout: 10 * time.Second}).DialContext

func main() {
	addr := flag.String("listen", "127.0.0.1:3128", "address to listen on (with -tun: default :3128 on the stack)")
	tunName := flag.String("tun", "", "run over tundra's stack on this existing TUN device instead of the kernel's TCP (needs root)")
	stackAddr := flag.String("addr", "", "with -tun: the stack's own IPv4 address, not the kernel side's")
	mtu := flag.Int("mtu", 0, "with -tun: the MTU to use (default: the device's)")
	flag.Parse()
	if *tunName != "" {
		st, err := attachStack(*tunName, *stackAddr, *mtu)
		if err != nil {
			log.Fatalf("attach to %s: %v", *tunName, err)
		}
		defer st.Close()
		listen, dial = st.Listen, st.DialContext
		if !flagWasSet("listen") {
			*addr = ":3128"
		}
	}
	l, err := listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &tundrahttp.Server{
		Handler:           newProxy(dial, slog.Default()),
		ReadHeaderTimeout: 10 * time.Second,
	}
	log.Printf("proxy listening on %s", l.Addr())
	log.Fatal(srv.Serve(l))
}

// flagWasSet reports whether the named flag was given on the command line.
func flagWasSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// proxy is the forward proxy's handler.
type proxy struct {
	dial   func(ctx context.Context, network, addr string) (net.Conn, error)
	client *tundrahttp.Client
	log    *slog.Logger
}

// viaName is this proxy's pseudonym in Via fields.
const viaName = "tundra-proxy"

func newProxy(dial func(ctx context.Context, network, addr string) (net.Conn, error), logger *slog.Logger) *proxy {
	return &proxy{
		dial: dial,
		// Redirects belong to the client behind the proxy, so the proxy
		// passes them through instead of following them.
		client: &tundrahttp.Client{DialContext: dial, MaxRedirects: -1},
		log:    logger,
	}
}

func (p *proxy) ServeHTTP(w nethttp.ResponseWriter, r *nethttp.Request) {
	if r.Method == "CONNECT" {
		p.tunnel(w, r)
		return
	}
	if !r.URL.IsAbs() || r.URL.Scheme != "http" {
		nethttp.Error(w, "this is a forward proxy: send an absolute http:// URL", nethttp.StatusBadRequest)
		return
	}
	if hasVia(r.Header) {
		nethttp.Error(w, "request already passed this proxy (loop)", nethttp.StatusLoopDetected)
		return
	}

	out := r.Clone(r.Context())
	out.RequestURI = "" // a client request must not have one
	out.Host = r.URL.Host
	removeHopByHop(out.Header)
	addVia(out.Header, r.ProtoMajor, r.ProtoMinor)
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		out.Header.Add("X-Forwarded-For", host)
	}
	if r.ContentLength == 0 {
		out.Body = nil
	}

	resp, err := p.client.Do(out)
	if err != nil {
		p.log.Warn("proxy: forwarding failed", "url", r.URL.String(), "err", err)
		nethttp.Error(w, "bad gateway: "+err.Error(), nethttp.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	removeHopByHop(resp.Header)
	addVia(resp.Header, resp.ProtoMajor, resp.ProtoMinor)
	h := w.Header()
	for k, vs := range resp.Header {
		h[k] = vs
	}
	if resp.ContentLength >= 0 && r.Method != "HEAD" {
		h.Set("Content-Length", itoa(resp.ContentLength))
	}
	w.WriteHeader(resp.StatusCode)
	if _, err := io.Copy(w, resp.Body); err != nil {
		p.log.Warn("proxy: copying response failed", "url", r.URL.String(), "err", err)
	}
}

// tunnel answers CONNECT: it dials the target, answers 200, and copies
// bytes both ways until both sides are done.
func (p *proxy) tunnel(w nethttp.ResponseWriter, r *nethttp.Request) {
	target, err := p.dial(r.Context(), "tcp", r.Host)
	if err != nil {
		nethttp.Error(w, "cannot reach "+r.Host+": "+err.Error(), nethttp.StatusBadGateway)
		return
	}
	defer target.Close()
	client, brw, err := w.(nethttp.Hijacker).Hijack()
	if err != nil {
		nethttp.Error(w, err.Error(), nethttp.StatusInternalServerError)
		return
	}
	defer client.Close()
	if _, err := io.WriteString(client, "HTTP/1.1 200 Connection Established\r\nVia: 1.1 "+viaName+"\r\n\r\n"); err != nil {
		return
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// The client may have sent bytes right after the CONNECT head;
		// they are in the hijacked reader's buffer.
		io.Copy(target, brw.Reader)
		closeWrite(target)
	}()
	io.Copy(client, target)
	closeWrite(client)
	wg.Wait()
}

// closeWrite half-closes c if it can, so the peer sees EOF while the other
// direction keeps flowing.
func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	} else {
		c.Close()
	}
}

// hopByHop are the fields that describe a single connection (RFC 9110
// section 7.6.1, and RFC 2616's list for older peers).
var hopByHop = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// removeHopByHop deletes the hop-by-hop fields and those named in
// Connection.
func removeHopByHop(h nethttp.Header) {
	for _, v := range h["Connection"] {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, k := range hopByHop {
		h.Del(k)
	}
}

// addVia appends this proxy to the Via field (RFC 9110 section 7.6.3),
// naming the protocol version of the message it received.
func addVia(h nethttp.Header, major, minor int) {
	h.Add("Via", itoa(int64(major))+"."+itoa(int64(minor))+" "+viaName)
}

// hasVia reports whether this proxy is already in the Via field.
func hasVia(h nethttp.Header) bool {
	for _, v := range h.Values("Via") {
		if strings.Contains(v, viaName) {
			return true
		}
	}
	return false
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
