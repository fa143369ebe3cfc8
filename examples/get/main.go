// Command get fetches a URL with tundra's HTTP client and writes the body
// to standard output or a file, with a progress bar on standard error for
// large bodies.
//
//	go run ./examples/get -o big.bin http://127.0.0.1:8080/bytes/100000000
//	go run ./examples/get -i http://127.0.0.1:8080/hello
//
// or over tundra's own TCP/IP stack, attached to an existing TUN device
// whose kernel side is 198.18.0.1/24 (as root; see attachStack), from a
// server on the kernel side:
//
//	go run ./examples/get -tun tun0 -addr 198.18.0.2 -o big.bin http://198.18.0.1:8080/big
//
// The dial variable below is the one place where the two modes differ.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	nethttp "net/http"
	"os"
	"sort"
	"time"

	"github.com/schollz/progressbar/v3"
	tundrahttp "github.com/tundra-net/tundra/http"
)

// dial opens the client's connections.
//
// TUNDRA STACK: with -tun, main replaces this with the stack's DialContext,
//
//	dial = st.DialContext
//
// and nothing else changes: the client only sees net.Conns.
var dial = (&net.Dialer{Timeout: 10 * time.Second}).DialContext

// progressThreshold is the body size from which a progress bar is shown;
// bodies of unknown length always get one (as a spinner).
const progressThreshold = 1 << 20

func main() {
	out := flag.String("o", "", "write the body to this file instead of standard output")
	method := flag.String("X", "GET", "request method")
	showHead := flag.Bool("i", false, "print the status line and header fields to standard error")
	timeout := flag.Duration("timeout", 0, "give up after this long (0: never)")
	quiet := flag.Bool("q", false, "no progress bar")
	tunName := flag.String("tun", "", "fetch over tundra's stack on this existing TUN device instead of the kernel's TCP (needs root)")
	stackAddr := flag.String("addr", "", "with -tun: the stack's own IPv4 address, not the kernel side's")
	mtu := flag.Int("mtu", 0, "with -tun: the MTU to use (default: the device's)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: get [flags] URL\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}

	if *tunName != "" {
		st, err := attachStack(*tunName, *stackAddr, *mtu)
		if err != nil {
			log.Fatalf("attach to %s: %v", *tunName, err)
		}
		defer st.Close()
		dial = st.DialContext
	}
	client := &tundrahttp.Client{DialContext: dial, Timeout: *timeout}
	dst := io.Writer(os.Stdout)
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			log.Fatal(err)
		}
		defer f.Close()
		dst = f
	}
	var progress io.Writer
	if !*quiet {
		progress = os.Stderr
	}
	n, err := fetch(context.Background(), client, *method, flag.Arg(0), dst, *showHead, progress)
	if err != nil {
		log.Fatal(err)
	}
	if *out != "" {
		fmt.Fprintf(os.Stderr, "%d bytes written to %s\n", n, *out)
	}
}

// fetch requests url and copies the body to dst. With progress non-nil and
// a large or unknown-length body, a progress bar is drawn on it.
func fetch(ctx context.Context, client *tundrahttp.Client, method, url string, dst io.Writer, showHead bool, progress io.Writer) (int64, error) {
	req, err := nethttp.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if showHead {
		fmt.Fprintf(os.Stderr, "%s %s\n", resp.Proto, resp.Status)
		keys := make([]string, 0, len(resp.Header))
		for k := range resp.Header {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			for _, v := range resp.Header[k] {
				fmt.Fprintf(os.Stderr, "%s: %s\n", k, v)
			}
		}
		fmt.Fprintln(os.Stderr)
	}
	if resp.StatusCode >= 400 {
		defer fmt.Fprintf(os.Stderr, "get: server answered %s\n", resp.Status)
	}
	w := dst
	if progress != nil && (resp.ContentLength < 0 || resp.ContentLength >= progressThreshold) {
		bar := progressbar.NewOptions64(resp.ContentLength,
			progressbar.OptionSetWriter(progress),
			progressbar.OptionSetDescription("downloading"),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowTotalBytes(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(progress) }),
			progressbar.OptionFullWidth(),
		)
		defer bar.Finish()
		w = io.MultiWriter(dst, bar)
	}
	return io.Copy(w, resp.Body)
}
