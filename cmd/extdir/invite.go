package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"time"

	"github.com/extdir/extdir/internal/phone"
)

// extdir invite: pending external user profiles from a spreadsheet, sent
// in $batch requests to extdir or Microsoft Graph. docs/invite.md has the
// user's side; this is the order of a run:
//
//  1. read the CSV once, checking every row (the domain's rules, after the
//     phone number is normalised to E.164) and flagging duplicates; a dry
//     run stops there;
//  2. with --resume, look up by phone number the rows that were in flight
//     when the last run stopped, and rewrite the results file to hold the
//     created rows only;
//  3. read the CSV again and send the rows in batches, --concurrency at a
//     time, each row's line appended to the results file as it finishes.

const (
	maxBatch       = 20 // Graph's limit on the requests of a $batch
	backoffBase    = 250 * time.Millisecond
	backoffCap     = 30 * time.Second
	maxRetryAfter  = 5 * time.Minute
	maxShownIssues = 20
	pendingURL     = "/directory/pendingExternalUserProfiles"
	externalURL    = "/directory/externalUserProfiles"
)

type inviteOptions struct {
	csv, out, resume, region string
	dryRun                   bool
	concurrency, batchSize   int
	retries                  int
	progress                 string
	every                    time.Duration
}

func runInvite(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("invite", flag.ContinueOnError)
	api := defineAPIFlags(fs, "invite", defaultLocalURL, nil)
	var o inviteOptions
	fs.StringVar(&o.csv, "csv", "", "CSV file of the invitations, one row each, with a header row of property names (phoneNumber, displayName, companyName, ...); - for stdin")
	fs.StringVar(&o.out, "out", "", "results file to write: one CSV line per input row, as each finishes")
	fs.StringVar(&o.resume, "resume", "", "results file of an earlier run of the same CSV: send only the rows it does not record as created (and continue that file, unless --out names another)")
	fs.StringVar(&o.region, "default-region", "", "region (ISO 3166 code, such as US or GB) of phone numbers written without a country code")
	fs.BoolVar(&o.dryRun, "dry-run", false, "check every row and print the report; send nothing")
	fs.IntVar(&o.concurrency, "concurrency", 4, "batches in flight at once")
	fs.IntVar(&o.batchSize, "batch-size", maxBatch, "rows per $batch request, 1 to 20")
	fs.IntVar(&o.retries, "retries", 8, "times a row is sent again after a 429, a 5xx or a network error before it counts as failed")
	fs.StringVar(&o.progress, "progress", "auto", "auto (a bar on a terminal, lines otherwise), bar, lines or off")
	fs.DurationVar(&o.every, "progress-interval", 5*time.Second, "time between two progress lines")
	if err := parseFlags(fs, args, getenv, stdout, "Invites the people of a CSV file (pending external user profiles) through the Graph API of extdir or Microsoft Graph: every row checked first, then sent in $batch requests, with retries, a results file and --resume (docs/invite.md)."); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if err := o.check(); err != nil {
		return err
	}
	input := o.csv
	if input == "-" {
		spooled, err := spool(stdin)
		if err != nil {
			return fmt.Errorf("invite: read stdin: %w", err)
		}
		defer os.Remove(spooled)
		input = spooled
	}
	outPath := o.out
	if outPath == "" {
		outPath = o.resume
	}
	var prior *priorRun
	if o.resume != "" {
		var err error
		if prior, err = readPriorRun(o.resume); err != nil {
			return fmt.Errorf("invite: --resume: %v", err)
		}
		if outPath != o.resume {
			if _, err := os.Stat(outPath); err == nil {
				return &usageError{msg: fmt.Sprintf("invite: --out %s exists: with --resume, --out names a new file (or leave it out to continue %s)", outPath, o.resume)}
			}
		}
	}

	// 1. Check every row.
	v, err := validateCSV(input, o.region, prior)
	if err != nil {
		return fmt.Errorf("invite: %s: %v", o.csv, err)
	}
	v.report(stdout, o.csv, o.batchSize, o.dryRun, outPath)
	if o.dryRun {
		if v.invalid > 0 {
			return fmt.Errorf("invite: %d of the %d rows of %s are invalid", v.invalid, v.rows, o.csv)
		}
		return nil
	}
	c, err := api.connect(getenv, o.concurrency)
	if err != nil {
		return err
	}
	if outPath == "" {
		fmt.Fprintln(stdout, "No --out: without a results file, a run that stops cannot be resumed.")
	}

	stopCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	s := &sender{c: c, retries: o.retries, stop: stopCtx, fatal: stop}

	// 2. Settle the rows of the last run.
	var rf *resultsFile
	recovered := 0
	if prior != nil {
		found, err := s.resolveInflight(prior)
		if err != nil {
			return err
		}
		recovered = len(found)
		for _, r := range found {
			prior.created[r.row] = phoneKey(r.phone)
		}
		fmt.Fprintf(stdout, "Resuming %s: %d rows were created before", o.resume, len(prior.created)-recovered)
		if len(prior.inflight) > 0 {
			fmt.Fprintf(stdout, "; of the %d in flight when it stopped, %d had been created (found by phone number)", len(prior.inflight), recovered)
		}
		fmt.Fprintln(stdout, ".")
		if err := rewriteResults(o.resume, outPath, func(r result) bool {
			_, ok := prior.created[r.row]
			return r.status == statusCreated && ok
		}, found); err != nil {
			return err
		}
		if rf, err = appendResults(outPath); err != nil {
			return err
		}
	} else if outPath != "" {
		if rf, err = createResults(outPath); err != nil {
			return err
		}
	}
	s.results = rf

	// 3. Send.
	total := int64(v.toSend - recovered + v.invalid + v.duplicates)
	s.prog = startProgress("invite", "rows", o.progress, stderr, total, o.every)
	finished := make(chan struct{})
	go secondInterrupt(ctx, finished, stderr, outPath)
	var created map[int]uint64
	if prior != nil {
		created = prior.created
	}
	sendErr := s.sendAll(input, o, v, created)
	close(finished)
	s.prog.finish()
	if cerr := rf.close(); sendErr == nil {
		sendErr = cerr
	}
	return s.summary(stdout, v, recovered, outPath, sendErr, context.Cause(stopCtx), ctx.Err() != nil)
}

func (o *inviteOptions) check() error {
	switch {
	case o.csv == "":
		return &usageError{msg: "invite: --csv is required (a file, or - for stdin)"}
	case o.concurrency < 1:
		return &usageError{msg: "invite: --concurrency must be at least 1"}
	case o.batchSize < 1 || o.batchSize > maxBatch:
		return &usageError{msg: "invite: --batch-size must be 1 to 20 (Graph's limit)"}
	case o.retries < 0:
		return &usageError{msg: "invite: --retries cannot be negative"}
	case o.csv == "-" && o.resume != "":
		return &usageError{msg: "invite: --resume needs the CSV as a file: the rows are matched by their line"}
	}
	switch o.progress {
	case "auto", "bar", "lines", "off":
	default:
		return &usageError{msg: "invite: --progress must be auto, bar, lines or off"}
	}
	if o.region != "" && !phone.KnownRegion(o.region) {
		return &usageError{msg: fmt.Sprintf("invite: --default-region %q is not a region code (such as US, GB, DE)", o.region)}
	}
	return nil
}

// spool copies stdin to a temporary file, so that it can be read twice
// without being held in memory.
func spool(r io.Reader) (string, error) {
	f, err := os.CreateTemp("", "extdir-invite-*.csv")
	if err != nil {
		return "", err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// secondInterrupt ends the process at a second Ctrl-C once the first one
// has stopped the run; the results file stays good for --resume.
func secondInterrupt(ctx context.Context, finished <-chan struct{}, stderr io.Writer, out string) {
	select {
	case <-finished:
		return
	case <-ctx.Done():
	}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt)
	defer signal.Stop(ch)
	hint := ""
	if out != "" {
		hint = "; --resume " + out + " finishes the run"
	}
	fmt.Fprintf(stderr, "\ninvite: interrupted: waiting for the batches in flight (Ctrl-C again to stop at once%s)\n", hint)
	select {
	case <-finished:
	case <-ch:
		fmt.Fprintf(stderr, "invite: stopped at once%s\n", hint)
		os.Exit(130)
	}
}

// validation is what the first reading found.
type validation struct {
	rows, invalid, duplicates, done, toSend int
	first                                   map[uint64]int // phone → the first valid row with it
	issues                                  []string
}

// validateCSV checks every row, reading the file as a stream; with a prior
// run it also checks that the rows it records are the rows of this file.
func validateCSV(path, region string, prior *priorRun) (*validation, error) {
	in, err := openCSV(path)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	inflight := map[int]string{}
	if prior != nil {
		for _, r := range prior.inflight {
			inflight[r.row] = r.phone
		}
	}
	v := &validation{first: map[uint64]int{}}
	issue := func(s string) {
		if len(v.issues) < maxShownIssues {
			v.issues = append(v.issues, s)
		}
	}
	for {
		cells, line, err := in.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		v.rows++
		r := in.checkRow(cells, line, region)
		if prior != nil {
			sent, wasCreated := "", false
			if key, ok := prior.created[line]; ok {
				sent, wasCreated = "+"+strconv.FormatUint(key, 10), true
			} else if phone, ok := inflight[line]; ok {
				sent = phone
			}
			if sent != "" && (r.err != "" || r.phone != sent) {
				return nil, fmt.Errorf("row %d was sent as %s by the run that --resume records, but this file has %q there: resume with the file that run read", line, sent, r.phone)
			}
			if wasCreated {
				v.done++
				if _, ok := v.first[phoneKey(r.phone)]; !ok {
					v.first[phoneKey(r.phone)] = line
				}
				continue
			}
		}
		if r.err != "" {
			v.invalid++
			issue(fmt.Sprintf("row %d: %s", line, r.err))
			continue
		}
		key := phoneKey(r.phone)
		if first, ok := v.first[key]; ok {
			v.duplicates++
			issue(fmt.Sprintf("row %d: %s", line, duplicateMessage(first, r.phone)))
			continue
		}
		v.first[key] = line
		v.toSend++
	}
	return v, nil
}

func duplicateMessage(first int, phone string) string {
	return fmt.Sprintf("Duplicate of row %d: the same phoneNumber %s (a live profile's phone number is unique).", first, phone)
}

// report prints what the check found.
func (v *validation) report(w io.Writer, name string, batchSize int, dryRun bool, out string) {
	fmt.Fprintf(w, "%s: %d rows: %d to send, %d invalid, %d duplicate", name, v.rows, v.toSend, v.invalid, v.duplicates)
	if v.done > 0 {
		fmt.Fprintf(w, ", %d created before", v.done)
	}
	fmt.Fprintln(w)
	for _, s := range v.issues {
		fmt.Fprintln(w, "  "+s)
	}
	if more := v.invalid + v.duplicates - len(v.issues); more > 0 {
		where := ""
		if out != "" && !dryRun {
			where = " (every one is in " + out + ")"
		}
		fmt.Fprintf(w, "  and %d more%s\n", more, where)
	}
	if dryRun {
		fmt.Fprintf(w, "Dry run: %d rows would be sent in $batch requests of up to %d; the invalid and duplicate rows would be skipped. Nothing was sent.\n",
			v.toSend, batchSize)
	}
}

// sender sends batches and records each row's outcome.
type sender struct {
	c       *apiClient
	results *resultsFile
	prog    *progress
	retries int
	stop    context.Context // done at Ctrl-C or a fatal error: no new batch, no retry
	fatal   context.CancelCauseFunc

	mu      sync.Mutex
	unknown int // rows whose answer never came and that no look-up found
}

// sendRow is a row on its way.
type sendRow struct {
	inviteRow
	last result // the last answer, for the line when the row gives up
}

// sendAll reads the CSV again and feeds the workers. created holds the
// rows a resumed run has already invited.
func (s *sender) sendAll(path string, o inviteOptions, v *validation, created map[int]uint64) error {
	in, err := openCSV(path)
	if err != nil {
		return err
	}
	defer in.Close()
	batches := make(chan []*sendRow)
	var wg sync.WaitGroup
	for range o.concurrency {
		wg.Go(func() {
			for b := range batches {
				s.runBatch(b)
			}
		})
	}
	var skipped []result
	flushSkipped := func() bool {
		if len(skipped) == 0 {
			return true
		}
		err := s.results.write(false, skipped...)
		for range skipped {
			s.prog.add(statusSkipped)
		}
		skipped = skipped[:0]
		if err != nil {
			s.fatal(err)
			return false
		}
		return true
	}
	var batch []*sendRow
	send := func() bool {
		if !flushSkipped() {
			return false
		}
		if len(batch) == 0 {
			return true
		}
		select {
		case batches <- batch:
			batch = nil
			return true
		case <-s.stop.Done():
			return false
		}
	}
	var readErr error
	for s.stop.Err() == nil {
		cells, line, err := in.next()
		if errors.Is(err, io.EOF) {
			send()
			break
		}
		if err != nil {
			readErr = err
			break
		}
		if _, ok := created[line]; ok {
			continue // the last run invited it: nothing to send, its line is kept
		}
		r := in.checkRow(cells, line, o.region)
		switch first, seen := v.first[phoneKey(r.phone)]; {
		case r.err != "":
			skipped = append(skipped, result{row: line, phone: r.phone, name: r.name, status: statusSkipped, code: "invalid", message: r.err})
		case seen && first != line:
			skipped = append(skipped, result{row: line, phone: r.phone, name: r.name, status: statusSkipped, code: "duplicate", message: duplicateMessage(first, r.phone)})
		default:
			batch = append(batch, &sendRow{inviteRow: r})
		}
		if len(skipped) >= 64 && !flushSkipped() {
			break
		}
		if len(batch) == o.batchSize && !send() {
			break
		}
	}
	close(batches)
	wg.Wait()
	if readErr != nil {
		return fmt.Errorf("invite: %s: %v", o.csv, readErr)
	}
	return nil
}
