package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var updateTutorial = flag.Bool("update-tutorial", false, "rewrite the outputs and plots docs/tutorial*.md quote")

// repoRoot is the repository's root, relative to this package.
const repoRoot = "../.."

// tutorials are the documents whose quoted outputs TestTutorialOutputs
// checks.
var tutorials = []string{"docs/tutorial.md", "docs/tutorial.zh.md"}

// tutorialOutput is one program output the tutorials quote, in the fenced
// block that follows a line "<!-- output NAME: ... -->". Every one comes
// from a run on a virtual clock, so it is the same on every machine and
// changes only when the code does.
type tutorialOutput struct {
	name string
	// produce returns the output; plots is a folder for any SVG plots.
	produce func(t *testing.T, plots string) string
	// plotPrefix, when set, names plots the tutorials show from
	// docs/images (PREFIX-cwnd.svg, -rtt.svg, -seq.svg).
	plotPrefix string
}

var tutorialOutputs = []tutorialOutput{
	{name: "sim4k", produce: simOutput("-size", "4KB", "-delay", "10ms", "-ladder", "-plots", "")},
	{name: "json-syn", produce: firstSegmentOut},
	{name: "loss-ladder", produce: simOutput("-size", "10KB", "-delay", "10ms", "-loss", "0.1", "-seed", "2", "-ladder", "-options", "-plots", "")},
	{name: "sim-newreno", produce: simPlots("newreno"), plotPrefix: "newreno"},
	{name: "sim-cubic", produce: simPlots("cubic"), plotPrefix: "cubic"},
	{name: "aimd", produce: goRun("./examples/aimd")},
}

// TestTutorialOutputs checks that what docs/tutorial.md and its
// translation quote of `tundra sim` and examples/aimd is what they print
// today, and that the plots in docs/images are current: the tutorial
// tells readers that a change to the TCP code shows up as a change in
// these outputs, so a change that moves them must update the tutorial
// (go test ./cmd/tundra -run TestTutorialOutputs -update-tutorial, then
// reread the prose around each block).
func TestTutorialOutputs(t *testing.T) {
	plots := t.TempDir()
	want := map[string]string{}
	for _, o := range tutorialOutputs {
		want[o.name] = o.produce(t, plots)
	}
	for _, doc := range tutorials {
		path := filepath.Join(repoRoot, doc)
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		got, rewritten, err := replaceOutputs(string(src), want)
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		for _, o := range tutorialOutputs {
			if _, ok := got[o.name]; !ok {
				t.Errorf("%s has no block marked <!-- output %s: ... -->", doc, o.name)
			}
		}
		stale := false
		for name, text := range got {
			if text != want[name] {
				stale = true
				if !*updateTutorial {
					t.Errorf("%s quotes an old output of %q (rerun with -update-tutorial and reread the text around it):\n--- quoted\n%s\n--- now\n%s", doc, name, text, want[name])
				}
			}
		}
		if stale && *updateTutorial {
			if err := os.WriteFile(path, []byte(rewritten), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("rewrote %s", doc)
		}
	}
	for _, o := range tutorialOutputs {
		if o.plotPrefix == "" {
			continue
		}
		for _, kind := range []string{"cwnd", "rtt", "seq"} {
			name := o.plotPrefix + "-" + kind + ".svg"
			fresh, err := os.ReadFile(filepath.Join(plots, name))
			if err != nil {
				t.Fatal(err)
			}
			committed := filepath.Join(repoRoot, "docs", "images", name)
			old, err := os.ReadFile(committed)
			if err == nil && bytes.Equal(old, fresh) {
				continue
			}
			if *updateTutorial {
				if err := os.WriteFile(committed, fresh, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			t.Errorf("docs/images/%s is not what %s plots today (rerun with -update-tutorial)", name, o.name)
		}
	}
}

// replaceOutputs finds every fenced block marked "<!-- output NAME: ...
// -->" in doc and returns what each holds, and doc with each block
// replaced by want[NAME].
func replaceOutputs(doc string, want map[string]string) (map[string]string, string, error) {
	got := map[string]string{}
	var out strings.Builder
	lines := strings.SplitAfter(doc, "\n")
	for i := 0; i < len(lines); i++ {
		out.WriteString(lines[i])
		name, ok := outputMarker(lines[i])
		if !ok {
			continue
		}
		if i+1 >= len(lines) || strings.TrimSpace(lines[i+1]) != "```" {
			return nil, "", fmt.Errorf("the marker of %q is not followed by a ``` line", name)
		}
		end := i + 2
		for end < len(lines) && strings.TrimSpace(lines[end]) != "```" {
			end++
		}
		if end == len(lines) {
			return nil, "", fmt.Errorf("the block of %q is not closed", name)
		}
		got[name] = strings.TrimSuffix(strings.Join(lines[i+2:end], ""), "\n")
		out.WriteString("```\n")
		if text, ok := want[name]; ok {
			out.WriteString(text + "\n")
		} else {
			out.WriteString(strings.Join(lines[i+2:end], ""))
		}
		out.WriteString(lines[end])
		i = end
	}
	return got, out.String(), nil
}

// outputMarker returns NAME from a line "<!-- output NAME: ... -->".
func outputMarker(line string) (string, bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), "<!-- output ")
	if !ok {
		return "", false
	}
	name, _, ok := strings.Cut(rest, ":")
	return name, ok
}

// simOutput runs `tundra sim ARGS` in-process and returns what it prints.
func simOutput(args ...string) func(*testing.T, string) string {
	return func(t *testing.T, _ string) string {
		return runSimForTutorial(t, args)
	}
}

// simPlots runs the tutorial's congestion-control comparison for cc,
// writing its plots into plots, and returns the summary without the
// "plot:" lines (they name the folder).
func simPlots(cc string) func(*testing.T, string) string {
	return func(t *testing.T, plots string) string {
		out := runSimForTutorial(t, []string{"-cc", cc, "-delay", "20ms", "-rate", "10mbit", "-size", "5MB",
			"-queue", "20", "-plots", plots, "-prefix", cc})
		var kept []string
		for _, line := range strings.Split(out, "\n") {
			if !strings.HasPrefix(line, "plot:") {
				kept = append(kept, line)
			}
		}
		return strings.Join(kept, "\n")
	}
}

// firstSegmentOut returns the first "segment-out" line (the SYN) of the
// JSON trace of a 4 KB transfer.
func firstSegmentOut(t *testing.T, dir string) string {
	trace := filepath.Join(dir, "t.jsonl")
	runSimForTutorial(t, []string{"-size", "4KB", "-delay", "10ms", "-plots", "", "-trace", trace})
	f, err := os.Open(trace)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"segment-out"`) {
			return sc.Text()
		}
	}
	t.Fatalf("no segment-out event in %s", trace)
	return ""
}

func runSimForTutorial(t *testing.T, args []string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(append([]string{"sim"}, args...), &stdout, &stderr); code != 0 {
		t.Fatalf("tundra sim %v exited %d: %s", args, code, stderr.String())
	}
	return strings.TrimSuffix(stdout.String(), "\n")
}

// goRun returns the output of `go run PKG` from the repository's root.
func goRun(pkg string) func(*testing.T, string) string {
	return func(t *testing.T, _ string) string {
		goBin, err := exec.LookPath("go")
		if err != nil {
			t.Skipf("go not in PATH, cannot run %s", pkg)
		}
		cmd := exec.Command(goBin, "run", pkg)
		cmd.Dir = repoRoot
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go run %s: %v\n%s", pkg, err, stderr.String())
		}
		return strings.TrimSuffix(string(out), "\n")
	}
}
