package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	nethttp "net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	tundrahttp "github.com/tundra-net/tundra/http"
)

// startProxy runs the proxy on our server on loopback.
func startProxy(t *testing.T) *url.URL {
	l, err := listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := &tundrahttp.Server{Handler: newProxy(dial, quiet), Logger: quiet}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	u, _ := url.Parse("http://" + l.Addr().String())
	return u
}

func TestForwarding(t *testing.T) {
	origin := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Connection", "X-Secret")
		w.Header().Set("X-Secret", "hop-only")
		w.Header().Set("Keep-Alive", "timeout=5")
		fmt.Fprintf(w, "%s %s via=%q conn=%q custom=%q xff=%q body=%q",
			r.Method, r.URL.Path, r.Header.Get("Via"), r.Header.Get("X-Hop"),
			r.Header.Get("X-Custom"), r.Header.Get("X-Forwarded-For"), b)
	}))
	defer origin.Close()
	proxyURL := startProxy(t)
	client := &nethttp.Client{Transport: &nethttp.Transport{Proxy: nethttp.ProxyURL(proxyURL)}}
	defer client.CloseIdleConnections()

	req, _ := nethttp.NewRequest("POST", origin.URL+"/path", strings.NewReader("payload"))
	req.Header.Set("Connection", "X-Hop")
	req.Header.Set("X-Hop", "must not pass")
	req.Header.Set("X-Custom", "passes")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := `POST /path via="1.1 tundra-proxy" conn="" custom="passes" xff="127.0.0.1" body="payload"`
	if string(body) != want {
		t.Fatalf("origin saw %s\nwant       %s", body, want)
	}
	if resp.Header.Get("X-Secret") != "" || resp.Header.Get("Keep-Alive") != "" {
		t.Fatalf("hop-by-hop response fields passed: %v", resp.Header)
	}
	if resp.Header.Get("Via") != "1.1 tundra-proxy" {
		t.Fatalf("response Via %q", resp.Header.Get("Via"))
	}
}

func TestConnectTunnel(t *testing.T) {
	origin := httptest.NewTLSServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		fmt.Fprintf(w, "secure %s", r.URL.Path)
	}))
	defer origin.Close()
	proxyURL := startProxy(t)
	tr := origin.Client().Transport.(*nethttp.Transport).Clone()
	tr.Proxy = nethttp.ProxyURL(proxyURL)
	client := &nethttp.Client{Transport: tr}
	defer client.CloseIdleConnections()
	for i := 0; i < 2; i++ {
		resp, err := client.Get(origin.URL + "/tls")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "secure /tls" || resp.TLS == nil {
			t.Fatalf("through the tunnel: %q tls=%v", body, resp.TLS != nil)
		}
	}
}

func TestRejectsOriginFormAndUnreachable(t *testing.T) {
	proxyURL := startProxy(t)
	c := &tundrahttp.Client{}
	resp, err := c.Get(proxyURL.String() + "/not-a-proxy-request")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("origin-form request: %d", resp.StatusCode)
	}

	// A port on loopback that nothing listens on.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := l.Addr().String()
	l.Close()
	conn, err := net.Dial("tcp", proxyURL.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", dead, dead)
	buf := make([]byte, 64)
	n, _ := conn.Read(buf)
	if !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 502") {
		t.Fatalf("CONNECT to a closed port: %q", buf[:n])
	}
}
