// Command httpd serves a few pages and a directory of files with tundra's
// HTTP server.
//
//	go run ./examples/httpd -listen 127.0.0.1:8080 -dir ./docs
//
// or over tundra's own TCP/IP stack, attached to an existing TUN device
// whose kernel side is 198.18.0.1/24 (as root; see attachStack):
//
//	go run ./examples/httpd -tun tun0 -addr 198.18.0.2 -dir ./docs
//	curl http://198.18.0.2/hello
//
// Pages:
//
//	/            an index with links
//	/hello       "hello, world"
//	/headers     the request as the server parsed it
//	/files/...   the directory given by -dir
//	/bytes/N     N bytes, and POST /echo, from the benchmark contract
//
// The listen variable below is the one place where the two modes differ:
// the server only ever sees a net.Listener.
package main

import (
	"context"
	"flag"
	"fmt"
	"html"
	"log"
	"net"
	nethttp "net/http"
	"os"
	"os/signal"
	"sort"
	"syscall"
	"time"

	tundrahttp "github.com/tundra-net/tundra/http"
)

// listen opens the listener the server runs on.
//
// TUNDRA STACK: with -tun, main replaces this with the stack's Listen,
//
//	listen = st.Listen
//
// and nothing else in this program changes: the server only sees a
// net.Listener.
var listen = func(network, addr string) (net.Listener, error) {
	return net.Listen(network, addr)
}

func main() {
	addr := flag.String("listen", "127.0.0.1:8080", "address to listen on (with -tun: default :80 on the stack)")
	dir := flag.String("dir", ".", "directory served under /files/")
	tunName := flag.String("tun", "", "serve over tundra's stack on this existing TUN device instead of the kernel's TCP (needs root)")
	stackAddr := flag.String("addr", "", "with -tun: the stack's own IPv4 address, not the kernel side's")
	mtu := flag.Int("mtu", 0, "with -tun: the MTU to use (default: the device's)")
	flag.Parse()

	if *tunName != "" {
		st, err := attachStack(*tunName, *stackAddr, *mtu)
		if err != nil {
			log.Fatalf("attach to %s: %v", *tunName, err)
		}
		defer st.Close()
		listen = st.Listen
		if !flagWasSet("listen") {
			*addr = ":80"
		}
	}

	l, err := listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &tundrahttp.Server{
		Handler:           newMux(*dir),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
	}

	// Ctrl-C: stop accepting, let requests in flight finish, then exit.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-stop
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			log.Printf("shutdown: %v", err)
			srv.Close()
		}
	}()

	log.Printf("serving %s on http://%s/", *dir, l.Addr())
	if err := srv.Serve(l); err != nethttp.ErrServerClosed {
		log.Fatal(err)
	}
}

// flagWasSet reports whether the named flag was given on the command line.
func flagWasSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// newMux builds the site: an ordinary net/http ServeMux, which tundra's
// server runs unchanged.
func newMux(dir string) *nethttp.ServeMux {
	mux := nethttp.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>tundra httpd</title>
<h1>tundra httpd</h1>
<ul>
<li><a href="/hello">/hello</a>
<li><a href="/headers">/headers</a>
<li><a href="/files/">/files/</a>
<li><a href="/bytes/1024">/bytes/1024</a>
</ul>`)
	})
	mux.HandleFunc("GET /hello", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		fmt.Fprintln(w, "hello, world")
	})
	mux.HandleFunc("GET /headers", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<pre>%s %s %s\nHost: %s\n", html.EscapeString(r.Method),
			html.EscapeString(r.RequestURI), r.Proto, html.EscapeString(r.Host))
		keys := make([]string, 0, len(r.Header))
		for k := range r.Header {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			for _, v := range r.Header[k] {
				fmt.Fprintf(w, "%s: %s\n", html.EscapeString(k), html.EscapeString(v))
			}
		}
		fmt.Fprintf(w, "\nfrom %s</pre>\n", html.EscapeString(r.RemoteAddr))
	})
	mux.Handle("/files/", nethttp.StripPrefix("/files/", nethttp.FileServer(nethttp.Dir(dir))))
	contract := tundrahttp.ContractHandler()
	mux.Handle("/bytes/", contract)
	mux.Handle("/echo", contract)
	return mux
}
