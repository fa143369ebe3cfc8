package conformance

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tundra-net/tundra/packetdrill"
	"github.com/tundra-net/tundra/packetdrill/stacktarget"
)

// ownScriptsDir holds tundra's own scripts for the classic exchanges of
// RFC 9293 (handshakes, closes, resets), written for its defaults.
const ownScriptsDir = "tundra"

// ownResult is the outcome of one of tundra's own scripts.
type ownResult struct {
	path  string // "tundra/NAME.pkt"
	title string // the first paragraph of its opening comment
	err   error  // from packetdrill.Run
	first string // the first difference, as expectations.txt gives it
	trace string // the runner's trace of the run
}

// runOwnScripts runs every script in tundra/ against the stack's default
// configuration (the packetdrill.Tundra profile), in name order.
func runOwnScripts(t *testing.T) []ownResult {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(ownScriptsDir, "*.pkt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("no scripts in %s", ownScriptsDir)
	}
	var out []ownResult
	for _, path := range paths {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		res := ownResult{path: filepath.ToSlash(path), title: openingParagraph(string(src))}
		s, err := packetdrill.Parse(path, string(src), packetdrill.ParseOptions{})
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		profile := packetdrill.Tundra()
		var trace strings.Builder
		res.err = packetdrill.Run(s, packetdrill.RunOptions{NewTarget: stacktarget.New, Profile: &profile, Trace: &trace, StrictEnd: true})
		res.first, res.trace = outcome(res.err).reason, trace.String()
		out = append(out, res)
	}
	return out
}

// openingParagraph returns the first paragraph of a script's opening
// comment, joined into one line: what the script checks.
func openingParagraph(src string) string {
	var words []string
	for _, line := range strings.Split(src, "\n") {
		text, ok := strings.CutPrefix(strings.TrimSpace(line), "//")
		text = strings.TrimSpace(text)
		if !ok || text == "" {
			break
		}
		words = append(words, text)
	}
	return strings.Join(words, " ")
}

// TestTundraScripts requires every script in tundra/ to pass. Unlike the
// FreeBSD suite's, these scripts state what tundra must do, so a failure
// is a tundra bug: it is allowed only while reasons.txt has a "bug" block
// for it (and docs/conformance.md lists it), and that block must go once
// the script passes.
func TestTundraScripts(t *testing.T) {
	rs := readReasons(t)
	for _, o := range runOwnScripts(t) {
		r := reasonFor(rs, o.path, o.first)
		listed := false
		for _, rr := range rs {
			listed = listed || rr.kind == kindBug && rr.matchesPath(o.path)
		}
		switch {
		case o.err == nil && listed:
			t.Errorf("%s passes now: delete its block in %s and run go test ./conformance -update", o.path, reasonsFile)
		case o.err != nil && (r == nil || r.kind != kindBug):
			t.Errorf("%s: %v\nIf tundra is wrong, give it a bug block in %s.\ntrace (tundra packetdrill -profile tundra -v conformance/%s):\n%s",
				o.path, o.err, reasonsFile, o.path, o.trace)
		case o.err != nil:
			t.Logf("%s fails, a known tundra bug (%s:%d): %s", o.path, reasonsFile, r.line, o.first)
		}
	}
}

// TestTundraScriptsCiteRFC: every script of tundra/ says at its top which
// RFC text it checks, in a comment before its first event.
func TestTundraScriptsCiteRFC(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(ownScriptsDir, "*.pkt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range paths {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var header strings.Builder
		for _, line := range strings.Split(string(src), "\n") {
			text, ok := strings.CutPrefix(strings.TrimSpace(line), "//")
			if !ok && strings.TrimSpace(line) != "" {
				break
			}
			header.WriteString(text + "\n")
		}
		if !strings.Contains(header.String(), "RFC ") {
			t.Errorf("%s: the comment at its top cites no RFC", path)
		}
	}
}
