package http

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Client sends HTTP/1.1 requests over connections it dials itself and keeps
// alive in a pool per host. It works on any net.Conn: DialContext decides
// whether requests travel over the kernel's TCP or tundra's.
//
// The zero value is ready to use and dials with a net.Dialer. A Client is
// safe for concurrent use, and should be reused: its pool is what saves a
// handshake per request.
//
// A response body must be read to its end or closed. Reading it to io.EOF
// returns the connection to the pool; closing it early reads and drops a
// small remainder (up to 64 KiB, briefly) to save the connection, and
// otherwise closes the connection. Close must not be called while a Read is
// running in another goroutine; cancel the request's context to abort a
// transfer instead.
type Client struct {
	// DialContext opens connections for "http" URLs; nil means a net.Dialer.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// DialTLSContext opens connections for "https" URLs, returning a
	// connection with TLS already set up (tundra's tls package provides
	// one). Nil means https URLs fail.
	DialTLSContext func(ctx context.Context, network, addr string) (net.Conn, error)

	// Timeout bounds a whole exchange, redirects and the reading of the
	// final body included. Zero means no limit.
	Timeout time.Duration
	// ResponseHeaderTimeout bounds the wait for a response head after the
	// request is written. Zero means no limit.
	ResponseHeaderTimeout time.Duration
	// ExpectContinueTimeout is how long a request with
	// "Expect: 100-continue" waits for the server's 100 before sending the
	// body anyway. Zero means DefaultExpectContinueTimeout.
	ExpectContinueTimeout time.Duration

	// MaxIdleConnsPerHost bounds the kept-alive connections waiting in the
	// pool for each host. Zero means DefaultMaxIdleConnsPerHost; negative
	// disables keep-alive.
	MaxIdleConnsPerHost int
	// MaxConnsPerHost bounds the connections to one host, in use or idle;
	// a request past it waits for one to free. Zero means
	// DefaultMaxConnsPerHost; negative means no limit.
	MaxConnsPerHost int
	// IdleConnTimeout closes pooled connections idle this long. Zero means
	// DefaultIdleConnTimeout.
	IdleConnTimeout time.Duration

	// MaxRedirects is how many redirects Do follows before failing. Zero
	// means DefaultMaxRedirects; negative means redirects are not followed
	// and the 3xx response is returned.
	MaxRedirects int
	// Limits bounds response heads; zero fields take their defaults.
	Limits Limits
	// UserAgent is sent when a request has no User-Agent header; empty
	// means DefaultUserAgent.
	UserAgent string

	mu    sync.Mutex
	pools map[string]*hostPool
}

// Client defaults.
const (
	DefaultMaxIdleConnsPerHost   = 8
	DefaultMaxConnsPerHost       = 256
	DefaultIdleConnTimeout       = 90 * time.Second
	DefaultMaxRedirects          = 10
	DefaultExpectContinueTimeout = time.Second
	DefaultUserAgent             = "tundra-http/1"
)

// maxCloseDrainBytes is how much of an unread response body Close will read
// to keep the connection, and maxCloseDrainTime how long it may take.
const (
	maxCloseDrainBytes = 64 << 10
	maxCloseDrainTime  = 100 * time.Millisecond
)

// Get fetches url with GET.
func (c *Client) Get(url string) (*nethttp.Response, error) {
	req, err := nethttp.NewRequest("GET", url, nil)
	if err != nil {
		return nil, err
	}
	return c.Do(req)
}

// Head fetches url's head with HEAD.
func (c *Client) Head(url string) (*nethttp.Response, error) {
	req, err := nethttp.NewRequest("HEAD", url, nil)
	if err != nil {
		return nil, err
	}
	return c.Do(req)
}

// Post sends body to url with POST and the given Content-Type. The body is
// sent with a Content-Length when its length is known (a *bytes.Buffer,
// *bytes.Reader or *strings.Reader) and chunked otherwise.
func (c *Client) Post(url, contentType string, body io.Reader) (*nethttp.Response, error) {
	req, err := nethttp.NewRequest("POST", url, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", contentType)
	return c.Do(req)
}

// Do sends req and returns the response, following redirects: 301, 302
// and 303 become a GET without a body (a HEAD stays a HEAD); 307 and 308
// repeat the method and the body, which needs req.GetBody when there is a
// body (nethttp.NewRequest sets it for in-memory bodies). Without GetBody,
// the 307 or 308 response itself is returned. Authorization and Cookie
// headers are not carried to another host.
//
// The request's context bounds the exchange, including the reading of the
// body; cancelling it closes the connection. Errors are *url.Error.
func (c *Client) Do(req *nethttp.Request) (*nethttp.Response, error) {
	if req.URL == nil {
		return nil, errors.New("http: nil Request.URL")
	}
	ctx := req.Context()
	cancel := context.CancelFunc(func() {})
	if c.Timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
	}
	maxRedirects := c.MaxRedirects
	if maxRedirects == 0 {
		maxRedirects = DefaultMaxRedirects
	}
	for redirects := 0; ; redirects++ {
		resp, err := c.send(ctx, req)
		if err != nil {
			closeBody(req) // as net/http does: the body is ours once Do is called
			cancel()
			return nil, &url.Error{Op: urlOp(req.Method), URL: req.URL.String(), Err: err}
		}
		next, err := c.redirect(req, resp, maxRedirects, redirects)
		if err != nil {
			resp.Body.Close()
			cancel()
			return nil, &url.Error{Op: urlOp(req.Method), URL: req.URL.String(), Err: err}
		}
		if next == nil {
			resp.Body.(*responseBody).onDone(cancel)
			return resp, nil
		}
		resp.Body.Close()
		req = next
	}
}

func urlOp(method string) string {
	if method == "" {
		return "Get"
	}
	return method[:1] + strings.ToLower(method[1:])
}

// redirect decides whether resp is a redirect to follow and builds the
// next request if so (RFC 9110 section 15.4).
func (c *Client) redirect(req *nethttp.Request, resp *nethttp.Response, max, done int) (*nethttp.Request, error) {
	code := resp.StatusCode
	if max < 0 || (code != 301 && code != 302 && code != 303 && code != 307 && code != 308) {
		return nil, nil
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		return nil, nil
	}
	if done >= max {
		return nil, fmt.Errorf("stopped after %d redirects", max)
	}
	target, err := req.URL.Parse(loc)
	if err != nil {
		return nil, fmt.Errorf("bad redirect Location %q: %w", loc, err)
	}
	next := req.Clone(req.Context())
	next.URL = target
	next.Host = ""
	next.RequestURI = ""
	keepBody := code == 307 || code == 308
	if !keepBody {
		if req.Method != "HEAD" {
			next.Method = "GET"
		}
		next.Body, next.GetBody, next.ContentLength = nil, nil, 0
		next.Header.Del("Content-Type")
		next.Header.Del("Content-Length")
	} else if req.Body != nil && req.Body != nethttp.NoBody {
		if req.GetBody == nil {
			return nil, nil // cannot replay the body: hand back the 307/308
		}
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		next.Body = body
	}
	if target.Host != req.URL.Host {
		for _, k := range []string{"Authorization", "Cookie", "Proxy-Authorization", "Www-Authenticate"} {
			next.Header.Del(k)
		}
	}
	return next, nil
}

// send performs one exchange, retrying once on a fresh connection if a
// pooled one turns out to have been closed by the server before it
// answered anything (the unavoidable keep-alive race, RFC 9112 section
// 9.3.1) and the request may be replayed.
func (c *Client) send(ctx context.Context, req *nethttp.Request) (*nethttp.Response, error) {
	scheme := req.URL.Scheme
	dial := c.DialContext
	defaultPort := "80"
	switch scheme {
	case "http":
		if dial == nil {
			dial = (&net.Dialer{}).DialContext
		}
	case "https":
		dial = c.DialTLSContext
		defaultPort = "443"
		if dial == nil {
			return nil, errors.New("https needs Client.DialTLSContext")
		}
	default:
		return nil, fmt.Errorf("unsupported protocol scheme %q", scheme)
	}
	host := req.URL.Host
	if host == "" {
		return nil, errors.New("no Host in request URL")
	}
	addr := host
	if req.URL.Port() == "" {
		addr = net.JoinHostPort(req.URL.Hostname(), defaultPort)
	}
	pool := c.pool(scheme + "://" + addr)
	fresh := false
	for {
		pc, err := pool.get(ctx, c, dial, addr, fresh)
		if err != nil {
			return nil, err
		}
		resp, err := pc.roundTrip(ctx, req)
		if err == nil {
			return resp, nil
		}
		var nr *nothingReceived
		if !errors.As(err, &nr) || !pc.reused || fresh || !replayable(req) || ctx.Err() != nil {
			if nr != nil {
				err = nr.err
			}
			return nil, err
		}
		if req.Body != nil && req.Body != nethttp.NoBody {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req = req.Clone(req.Context())
			req.Body = body
		}
		fresh = true
	}
}

// replayable reports whether req may be sent a second time: its method is
// idempotent (RFC 9110 section 9.2.2) and its body can be produced again.
func replayable(req *nethttp.Request) bool {
	switch req.Method {
	case "", "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE":
	default:
		return false
	}
	return req.Body == nil || req.Body == nethttp.NoBody || req.GetBody != nil
}

// CloseIdleConnections closes the pooled connections that are not in use.
func (c *Client) CloseIdleConnections() {
	c.mu.Lock()
	var idle []*persistConn
	for _, p := range c.pools {
		idle = append(idle, p.idle...)
		p.idle = nil
	}
	c.mu.Unlock()
	for _, pc := range idle {
		pc.close()
	}
}

func (c *Client) pool(key string) *hostPool {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.pools[key]
	if !ok {
		if c.pools == nil {
			c.pools = make(map[string]*hostPool)
		}
		p = &hostPool{client: c}
		c.pools[key] = p
	}
	return p
}

// hostPool holds one host's connections. All its fields are guarded by the
// Client's mutex.
type hostPool struct {
	client  *Client
	idle    []*persistConn // most recently used last
	open    int            // connections open or being dialed
	waiters []chan struct{}
}

// get returns an idle connection or dials a new one, waiting while the
// host is at MaxConnsPerHost.
func (p *hostPool) get(ctx context.Context, c *Client, dial func(context.Context, string, string) (net.Conn, error), addr string, fresh bool) (*persistConn, error) {
	maxConns := c.MaxConnsPerHost
	if maxConns == 0 {
		maxConns = DefaultMaxConnsPerHost
	}
	idleTimeout := c.IdleConnTimeout
	if idleTimeout <= 0 {
		idleTimeout = DefaultIdleConnTimeout
	}
	for {
		c.mu.Lock()
		var stale []*persistConn
		var pc *persistConn
		for !fresh && len(p.idle) > 0 {
			last := p.idle[len(p.idle)-1]
			p.idle = p.idle[:len(p.idle)-1]
			if time.Since(last.idleSince) > idleTimeout {
				stale = append(stale, last)
				continue
			}
			last.idleTimer.Stop()
			pc = last
			break
		}
		canDial := pc == nil && (maxConns < 0 || p.open-len(stale) < maxConns)
		if canDial {
			p.open++
		}
		var wait chan struct{}
		if pc == nil && !canDial {
			wait = make(chan struct{}, 1)
			p.waiters = append(p.waiters, wait)
		}
		c.mu.Unlock()
		for _, s := range stale {
			s.close()
		}
		if pc != nil {
			pc.reused = true
			return pc, nil
		}
		if canDial {
			conn, err := dial(ctx, "tcp", addr)
			if err != nil {
				c.mu.Lock()
				p.open--
				p.wakeOne()
				c.mu.Unlock()
				return nil, err
			}
			return newPersistConn(p, conn), nil
		}
		select {
		case <-wait:
		case <-ctx.Done():
			c.mu.Lock()
			removed := false
			for i, w := range p.waiters {
				if w == wait {
					p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
					removed = true
					break
				}
			}
			if !removed {
				p.wakeOne() // we were woken as we gave up: pass it on
			}
			c.mu.Unlock()
			return nil, ctx.Err()
		}
	}
}

// wakeOne tells the longest waiter that a connection or a slot is free.
// The caller holds the Client's mutex.
func (p *hostPool) wakeOne() {
	if len(p.waiters) > 0 {
		w := p.waiters[0]
		p.waiters = p.waiters[1:]
		w <- struct{}{}
	}
}

// put returns a connection whose last response was read completely.
func (p *hostPool) put(pc *persistConn) {
	c := p.client
	maxIdle := c.MaxIdleConnsPerHost
	if maxIdle == 0 {
		maxIdle = DefaultMaxIdleConnsPerHost
	}
	idleTimeout := c.IdleConnTimeout
	if idleTimeout <= 0 {
		idleTimeout = DefaultIdleConnTimeout
	}
	c.mu.Lock()
	if maxIdle < 0 || len(p.idle) >= maxIdle {
		c.mu.Unlock()
		pc.close()
		return
	}
	pc.idleSince = time.Now()
	p.idle = append(p.idle, pc)
	if pc.idleTimer == nil {
		pc.idleTimer = time.AfterFunc(idleTimeout, pc.idleExpired)
	} else {
		pc.idleTimer.Reset(idleTimeout)
	}
	p.wakeOne()
	c.mu.Unlock()
}
