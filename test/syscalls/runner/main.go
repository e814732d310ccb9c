// Command runner runs Rampart's syscall tests: each C program in
// test/syscalls, built static, static-PIE and dynamic, runs natively first
// (Linux is the oracle: a native failure marks the test BROKEN) and then under
// the sandbox, whose stdout and exit status must match the native run's.
//
// Usage (from the repository root, after the binaries are built):
//
//	go run ./test/syscalls/runner [-run mmap,files] [-j 2] [-native-only]
//
// The sandbox command prefix comes from -runsc or $RUNSC (default
// "bin/runsc do --"); RUNSC=env runs every test natively twice, which checks
// the harness itself. The last line printed is "N passed, M failed".
//
// A test describes how it is run with comment lines in its source:
//
//	// rampart:args a b "c d"      arguments after argv[0]
//	// rampart:env FOO=bar X=      environment added to the base environment
//	// rampart:status 42           expected exit status (128+N: killed by N)
//	// rampart:timeout 120s        per-run time limit (default -timeout)
//	// rampart:retries 2           runs again (natively and in the sandbox)
//	                               up to N times after a failure: only for
//	                               tests whose checks measure time and can
//	                               miss on a loaded host; each attempt is
//	                               reported, and a deterministic failure
//	                               still fails every attempt
//	// rampart:variants dynamic    runs only these of the linkages (static,
//	                               pie, dynamic): for a long test of what
//	                               the linkage cannot change (a file
//	                               system's behaviour under load)
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Variants are the ways each test is linked; each is built into its own
// folder below the output directory by the Makefile.
var variants = []string{"static", "pie", "dynamic"}

// baseEnv is the environment of every run, native or sandboxed, before the
// test's own variables: small and fixed, so that outputs do not depend on the
// caller's shell.
var baseEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/root",
	"LC_ALL=C",
}

// Spec is how one test program is run, from its rampart: directives.
type Spec struct {
	Name    string
	Args    []string
	Env     []string
	Status  int
	Timeout time.Duration // 0: the runner's default
	Retries int
	// Variants are the linkages the test runs in; nil: all of them.
	Variants []string
}

// Case is one built binary of a Spec.
type Case struct {
	Spec    Spec
	Variant string
	Binary  string // absolute path
}

func (c Case) String() string { return c.Spec.Name + "/" + c.Variant }

// Run is the outcome of one execution.
type Run struct {
	Status   int // exit status, or 128+N when killed by signal N
	Stdout   []byte
	Stderr   []byte
	Duration time.Duration
	TimedOut bool
	Err      error // the program could not be started
}

// Verdict of a case.
type Verdict int

const (
	Pass   Verdict = iota
	Fail           // the sandbox run differs from the native run
	Broken         // the native run failed: the test itself is wrong
)

func (v Verdict) String() string {
	return [...]string{"PASS", "FAIL", "BROKEN"}[v]
}

// Result is the verdict of a case with what explains it.
type Result struct {
	Case    Case
	Verdict Verdict
	Native  Run
	Sandbox Run
	Detail  string
	// Retried holds the verdicts and details of failed attempts before
	// this one (rampart:retries).
	Retried []string
}

func main() {
	var (
		runscFlag  = flag.String("runsc", "", `sandbox command prefix (default $RUNSC, else "bin/runsc do --")`)
		src        = flag.String("src", "test/syscalls", "folder of the test sources")
		out        = flag.String("out", "test/syscalls/out", "folder of the built tests (one subfolder per variant)")
		run        = flag.String("run", "", "comma- or space-separated test names to run (default all)")
		jobs       = flag.Int("j", 2, "tests run in parallel")
		timeout    = flag.Duration("timeout", 30*time.Second, "default time limit of one run")
		scale      = flag.Float64("limit-scale", 1, "multiply each sandbox run's time limit (for suites where every file operation is a host round trip)")
		nativeOnly = flag.Bool("native-only", false, "run natively only (checks the tests, not the sandbox)")
		verbose    = flag.Bool("v", false, "print the output of passing tests too")
	)
	flag.Parse()
	if *scale <= 0 {
		fmt.Fprintln(os.Stderr, "syscall-runner: -limit-scale must be positive")
		os.Exit(2)
	}
	limitScale = *scale

	prefix := *runscFlag
	if prefix == "" {
		prefix = os.Getenv("RUNSC")
	}
	if prefix == "" {
		prefix = "bin/runsc do --"
	}
	sandbox, err := splitWords(prefix)
	if err == nil && len(sandbox) == 0 {
		err = errors.New("empty command")
	}
	if err != nil {
		fatalf("bad sandbox prefix %q: %v", prefix, err)
	}
	// A relative program path is relative to where we were started.
	if strings.Contains(sandbox[0], "/") && !filepath.IsAbs(sandbox[0]) {
		if abs, err := filepath.Abs(sandbox[0]); err == nil {
			sandbox[0] = abs
		}
	}

	specs, err := loadSpecs(*src, splitList(*run))
	if err != nil {
		fatalf("%v", err)
	}
	outAbs, err := filepath.Abs(*out)
	if err != nil {
		fatalf("%v", err)
	}
	var cases []Case
	for _, s := range specs {
		vs := variants
		if s.Variants != nil {
			vs = s.Variants
		}
		for _, v := range vs {
			cases = append(cases, Case{Spec: s, Variant: v, Binary: filepath.Join(outAbs, v, s.Name)})
		}
	}
	if *nativeOnly {
		sandbox = nil
		fmt.Printf("running %d cases natively only\n", len(cases))
	} else {
		fmt.Printf("running %d cases natively and under %q\n", len(cases), strings.Join(sandbox, " "))
	}

	results := runAll(cases, sandbox, *jobs, *timeout, func(r Result) {
		printResult(os.Stdout, r, *verbose)
	})
	passed, failed := 0, 0
	var bad []string
	for _, r := range results {
		if r.Verdict == Pass {
			passed++
		} else {
			failed++
			bad = append(bad, r.Verdict.String()+" "+r.Case.String())
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		fmt.Printf("\nnot passing:\n  %s\n", strings.Join(bad, "\n  "))
	}
	fmt.Printf("%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		os.Exit(1)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "runner: "+format+"\n", args...)
	os.Exit(2)
}

// splitList splits a list of names separated by commas or spaces.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

// loadSpecs reads the specs of the tests in dir, all of them or those named.
func loadSpecs(dir string, names []string) ([]Spec, error) {
	if len(names) == 0 {
		matches, err := filepath.Glob(filepath.Join(dir, "*.c"))
		if err != nil {
			return nil, err
		}
		for _, m := range matches {
			names = append(names, strings.TrimSuffix(filepath.Base(m), ".c"))
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("no tests in %s", dir)
		}
	}
	sort.Strings(names)
	var specs []Spec
	for _, n := range names {
		n = strings.TrimSuffix(n, ".c")
		data, err := os.ReadFile(filepath.Join(dir, n+".c"))
		if err != nil {
			return nil, fmt.Errorf("test %q: %w", n, err)
		}
		s, err := parseSpec(n, data)
		if err != nil {
			return nil, fmt.Errorf("test %q: %w", n, err)
		}
		specs = append(specs, s)
	}
	return specs, nil
}

// parseSpec reads the "// rampart:key value" directives of a test source.
func parseSpec(name string, src []byte) (Spec, error) {
	s := Spec{Name: name}
	sc := bufio.NewScanner(bytes.NewReader(src))
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		rest, ok := strings.CutPrefix(text, "// rampart:")
		if !ok {
			continue
		}
		key, val, _ := strings.Cut(rest, " ")
		val = strings.TrimSpace(val)
		var err error
		switch key {
		case "args":
			var w []string
			w, err = splitWords(val)
			s.Args = append(s.Args, w...)
		case "env":
			var w []string
			w, err = splitWords(val)
			for _, kv := range w {
				if !strings.Contains(kv, "=") {
					err = fmt.Errorf("env %q is not KEY=VALUE", kv)
				}
			}
			s.Env = append(s.Env, w...)
		case "status":
			s.Status, err = strconv.Atoi(val)
			if err == nil && (s.Status < 0 || s.Status > 255) {
				err = fmt.Errorf("status %d out of range", s.Status)
			}
		case "timeout":
			s.Timeout, err = time.ParseDuration(val)
		case "retries":
			s.Retries, err = strconv.Atoi(val)
			if err == nil && (s.Retries < 0 || s.Retries > 5) {
				err = fmt.Errorf("retries %d out of range 0..5", s.Retries)
			}
		case "variants":
			w := strings.Fields(val)
			if len(w) == 0 {
				err = errors.New("variants names none")
			}
			for _, v := range w {
				if !slices.Contains(variants, v) {
					err = fmt.Errorf("unknown variant %q", v)
				}
			}
			s.Variants = append(s.Variants, w...)
		default:
			err = fmt.Errorf("unknown directive %q", key)
		}
		if err != nil {
			return Spec{}, fmt.Errorf("line %d: %w", line, err)
		}
	}
	return s, sc.Err()
}

// splitWords splits s into words like a POSIX shell would, honouring single
// and double quotes and backslashes (no expansions).
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte(`"\$`+"`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New("unterminated double quote")
			}
			inWord = true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// runAll runs the cases with at most jobs at a time, calls report as each
// finishes, and returns the results in the order of cases. A nil sandbox
// runs natively only.
func runAll(cases []Case, sandbox []string, jobs int, timeout time.Duration, report func(Result)) []Result {
	if jobs < 1 {
		jobs = 1
	}
	results := make([]Result, len(cases))
	var mu sync.Mutex // serialises report
	var wg sync.WaitGroup
	sem := make(chan struct{}, jobs)
	for i, c := range cases {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r := runCase(c, sandbox, timeout)
			results[i] = r
			mu.Lock()
			report(r)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return results
}

// runCase runs c natively and then, unless sandbox is nil, under sandbox,
// as many times as its retries allow until an attempt passes.
func runCase(c Case, sandbox []string, timeout time.Duration) Result {
	var retried []string
	for attempt := 0; ; attempt++ {
		r := runOnce(c, sandbox, timeout)
		if r.Verdict == Pass || attempt >= c.Spec.Retries {
			r.Retried = retried
			return r
		}
		retried = append(retried, fmt.Sprintf("attempt %d: %s\n%s", attempt+1, r.Verdict, r.Detail))
	}
}

// runOnce is one attempt of runCase.
func runOnce(c Case, sandbox []string, timeout time.Duration) Result {
	if c.Spec.Timeout > 0 {
		timeout = c.Spec.Timeout
	}
	r := Result{Case: c}
	if _, err := os.Stat(c.Binary); err != nil {
		r.Verdict, r.Detail = Broken, fmt.Sprintf("not built: %v", err)
		return r
	}
	argv := append([]string{c.Binary}, c.Spec.Args...)
	env := append(append([]string(nil), baseEnv...), c.Spec.Env...)

	r.Native = execute(argv, env, timeout)
	if why := nativeProblem(r.Native, c.Spec.Status); why != "" {
		r.Verdict, r.Detail = Broken, "native run: "+why
		return r
	}
	if sandbox == nil {
		return r
	}
	// The limit catches hangs, not slowness: a host loaded enough to slow
	// the native run gets the sandbox proportionally more time.
	timeout = time.Duration(float64(timeout) * limitScale)
	if t := sandboxSlack * r.Native.Duration; t > timeout {
		timeout = t
	}
	r.Sandbox = execute(append(append([]string(nil), sandbox...), argv...), env, timeout)
	var why []string
	switch {
	case r.Sandbox.Err != nil:
		why = append(why, fmt.Sprintf("sandbox did not start: %v", r.Sandbox.Err))
	case r.Sandbox.TimedOut:
		why = append(why, fmt.Sprintf("sandbox run timed out after %v", timeout))
	case r.Sandbox.Status != r.Native.Status:
		why = append(why, fmt.Sprintf("exit status %s, native %s", statusString(r.Sandbox.Status), statusString(r.Native.Status)))
	}
	if goPanic.Match(r.Sandbox.Stderr) {
		why = append(why, "the sandbox panicked (see its stderr)")
	}
	if !bytes.Equal(r.Sandbox.Stdout, r.Native.Stdout) {
		why = append(why, "stdout differs from native (-native +sandbox):\n"+diff(r.Native.Stdout, r.Sandbox.Stdout, 60))
	}
	if len(why) > 0 {
		r.Verdict, r.Detail = Fail, strings.Join(why, "\n")
	}
	return r
}

// limitScale is -limit-scale: set once in main before any test runs.
var limitScale = 1.0

// sandboxSlack bounds a sandbox run at this multiple of its native run's
// time when that is above the test's time limit.
const sandboxSlack = 12

// goPanic matches the stderr of a crashed Go program: the sandbox must never
// panic, whatever the application does.
var goPanic = regexp.MustCompile(`(?m)^(panic: |fatal error: |goroutine [0-9]+ \[)`)

// nativeProblem says why a native run shows a broken test, or "" if it is
// fine: it must finish in time with the expected status and no FAIL line.
func nativeProblem(n Run, want int) string {
	switch {
	case n.Err != nil:
		return fmt.Sprintf("could not start: %v", n.Err)
	case n.TimedOut:
		return "timed out"
	case n.Status != want:
		return fmt.Sprintf("exit status %s, want %s", statusString(n.Status), statusString(want))
	}
	for _, l := range strings.Split(string(n.Stdout), "\n") {
		if strings.HasPrefix(l, "FAIL ") {
			return "check failed: " + l
		}
	}
	return ""
}

func statusString(s int) string {
	if s > 128 && s < 128+65 {
		return fmt.Sprintf("%d (signal %d, %v)", s, s-128, syscall.Signal(s-128))
	}
	return strconv.Itoa(s)
}

// execute runs argv with env, stdin from /dev/null, in its own process group
// that is killed whole when the time limit passes.
func execute(argv, env []string, timeout time.Duration) Run {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	// Do not wait forever for grandchildren that hold the pipes open.
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	r := Run{Duration: time.Since(start), Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	if ctx.Err() != nil {
		r.TimedOut = true
	}
	if cmd.ProcessState == nil {
		r.Err = err
		return r
	}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		r.Status = 128 + int(ws.Signal())
	} else {
		r.Status = ws.ExitStatus()
	}
	return r
}

func printResult(w *os.File, r Result, verbose bool) {
	times := fmt.Sprintf("native %.2fs", r.Native.Duration.Seconds())
	if r.Sandbox.Duration > 0 {
		times += fmt.Sprintf(", sandbox %.2fs", r.Sandbox.Duration.Seconds())
	}
	if n := len(r.Retried); n > 0 {
		times += fmt.Sprintf(", after %d failed attempt(s)", n)
	}
	fmt.Fprintf(w, "%-6s %s (%s)\n", r.Verdict, r.Case, times)
	for _, a := range r.Retried {
		fmt.Fprintln(w, indent(a))
	}
	if r.Verdict == Pass && !verbose {
		return
	}
	if r.Detail != "" {
		fmt.Fprintln(w, indent(r.Detail))
	}
	show := func(what string, b []byte) {
		if len(b) > 0 {
			fmt.Fprintf(w, "    --- %s:\n%s\n", what, indent(tail(b, 40)))
		}
	}
	if r.Verdict == Broken || verbose {
		show("native stdout", r.Native.Stdout)
		show("native stderr", r.Native.Stderr)
	}
	if r.Verdict == Fail || verbose {
		show("sandbox stderr", r.Sandbox.Stderr)
	}
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

// tail returns the last n lines of b.
func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("[%d lines cut]", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// diff returns a line diff of a and b ("-" only in a, "+" only in b, " " in
// both), from a longest common subsequence, cut after limit lines.
func diff(a, b []byte, limit int) string {
	al := splitLines(a)
	bl := splitLines(b)
	// lcs[i][j] = length of the LCS of al[i:] and bl[j:].
	lcs := make([][]int, len(al)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(bl)+1)
	}
	for i := len(al) - 1; i >= 0; i-- {
		for j := len(bl) - 1; j >= 0; j-- {
			if al[i] == bl[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []string
	i, j := 0, 0
	for i < len(al) || j < len(bl) {
		switch {
		case i < len(al) && j < len(bl) && al[i] == bl[j]:
			out = append(out, " "+al[i])
			i++
			j++
		case i < len(al) && (j == len(bl) || lcs[i+1][j] >= lcs[i][j+1]):
			out = append(out, "-"+al[i])
			i++
		default:
			out = append(out, "+"+bl[j])
			j++
		}
	}
	// Keep changed lines with one line of context around them.
	var keep []string
	for k, l := range out {
		changed := func(n int) bool { return n >= 0 && n < len(out) && out[n][0] != ' ' }
		if changed(k) || changed(k-1) || changed(k+1) {
			keep = append(keep, l)
		}
	}
	if len(keep) > limit {
		keep = append(keep[:limit], fmt.Sprintf("[%d more lines]", len(keep)-limit))
	}
	return strings.Join(keep, "\n")
}

func splitLines(b []byte) []string {
	s := string(b)
	if s == "" {
		return nil
	}
	lines := strings.Split(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	} else {
		lines[len(lines)-1] += " [no newline at end]"
	}
	return lines
}
